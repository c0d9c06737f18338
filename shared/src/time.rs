//! Times as the settings pages print them: UTC, to the second, the same in the
//! browser and on the server (no time-zone database in the WASM bundle).

/// `2026-11-23 16:02:05 UTC` for Unix seconds.
pub fn format_utc(unix: i64) -> String {
    let ((y, m, d), secs) = split(unix);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// `2026-11-23 16:02 UTC`: for dates far away, like certificate expiry.
pub fn format_utc_minutes(unix: i64) -> String {
    let ((y, m, d), secs) = split(unix);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

fn split(unix: i64) -> ((i64, u32, u32), i64) {
    (
        civil_from_days(unix.div_euclid(86_400)),
        unix.rem_euclid(86_400),
    )
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::format_utc;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(format_utc(1_795_449_725), "2026-11-23 16:02:05 UTC");
        assert_eq!(format_utc(-1), "1969-12-31 23:59:59 UTC");
        assert_eq!(
            super::format_utc_minutes(1_795_449_725),
            "2026-11-23 16:02 UTC"
        );
    }
}
