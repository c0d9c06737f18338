//! A SQLite VFS that keeps a reader's memory map across other connections' commits.
//!
//! In WAL mode, a read transaction that sees a commit made since its last one
//! throws its page cache away and asks the VFS to unmap the whole database file
//! (`pagerBeginReadTransaction` → `xUnfetch(fd, 0, NULL)`). The unix VFS then
//! calls `munmap`, which costs a TLB-shootdown interrupt on every other core,
//! and every page the next read touches faults back in. Under sign-in load
//! that was 7 % of the server's CPU (`perf`: `smp_call_function_many_cond`,
//! `unmap_page_range` and the faults after them, all under `unixUnfetch`).
//!
//! The map is a `MAP_SHARED` view of the file, so it never holds stale bytes;
//! SQLite unmaps only in case the file was truncated, which would leave pages of
//! the map past its end. This VFS is the default unix one with one change: an
//! unmap of the whole file is skipped while the file has the size it had at the
//! last unmap that went through. A file that grew is unmapped as before (the
//! map is made again, at the new size, on the next read); one that shrank, too.
//! Latchkey's database file does not shrink: it never runs `VACUUM` on it
//! (backups use `VACUUM INTO` another file) and `auto_vacuum` is off.
//!
//! Every other method is the unix VFS's own: its files are opened by it, with
//! its io methods copied, so locking and the WAL index work exactly as in the
//! stock VFS, and connections on either VFS share one file safely.

use libsqlite3_sys as ffi;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The name connections ask for (`SqliteConnectOptions::vfs`).
pub const NAME: &str = match NAME_C.to_str() {
    Ok(name) => name,
    Err(_) => panic!("the VFS name is ASCII"),
};
const NAME_C: &CStr = c"latchkey-kept-map";

/// What this VFS adds after the unix VFS's own file struct.
#[repr(C)]
struct Kept {
    /// The file's size at the last whole-file unmap that went through; -1 before.
    size_at_unmap: i64,
}

struct Registered {
    /// The unix VFS.
    real: *mut ffi::sqlite3_vfs,
    /// Where `Kept` starts in a file struct: after the unix VFS's own, aligned.
    kept_offset: usize,
}

// Both pointers are to structs that live as long as the process and that SQLite
// only reads after registration.
unsafe impl Send for Registered {}
unsafe impl Sync for Registered {}

/// How many whole-file unmaps were skipped, since the process started.
static SKIPPED_UNMAPS: AtomicU64 = AtomicU64::new(0);

#[cfg(test)]
pub fn skipped_unmaps() -> u64 {
    SKIPPED_UNMAPS.load(Ordering::Relaxed)
}

static REGISTERED: OnceLock<Result<Registered, String>> = OnceLock::new();
/// The unix io methods with `xUnfetch` replaced, and the originals they copy.
static METHODS: OnceLock<IoMethods> = OnceLock::new();

struct IoMethods {
    original: *const ffi::sqlite3_io_methods,
    kept: ffi::sqlite3_io_methods,
}

unsafe impl Send for IoMethods {}
unsafe impl Sync for IoMethods {}

/// Registers the VFS once (it is not made the default); an error says why not.
pub fn register() -> Result<(), String> {
    REGISTERED
        .get_or_init(|| unsafe { register_now() })
        .as_ref()
        .map(|_| ())
        .map_err(Clone::clone)
}

unsafe fn register_now() -> Result<Registered, String> {
    let real = ffi::sqlite3_vfs_find(std::ptr::null());
    if real.is_null() {
        return Err("SQLite has no default VFS".into());
    }
    let align = std::mem::align_of::<Kept>();
    let kept_offset = ((*real).szOsFile as usize).div_ceil(align) * align;
    let mut vfs: ffi::sqlite3_vfs = std::ptr::read(real);
    vfs.zName = NAME_C.as_ptr() as *const c_char;
    vfs.szOsFile = (kept_offset + std::mem::size_of::<Kept>()) as c_int;
    vfs.xOpen = Some(open);
    vfs.pNext = std::ptr::null_mut();
    // SQLite keeps the pointer for the life of the process.
    let vfs = Box::leak(Box::new(vfs));
    let rc = ffi::sqlite3_vfs_register(vfs, 0);
    if rc != ffi::SQLITE_OK {
        return Err(format!("sqlite3_vfs_register failed with code {rc}"));
    }
    Ok(Registered { real, kept_offset })
}

fn registered() -> &'static Registered {
    match REGISTERED.get() {
        Some(Ok(registered)) => registered,
        // SQLite can only find this VFS once registered.
        _ => unreachable!("the VFS is used before it was registered"),
    }
}

unsafe fn kept(file: *mut ffi::sqlite3_file) -> *mut Kept {
    (file as *mut u8).add(registered().kept_offset) as *mut Kept
}

unsafe extern "C" fn open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let registered = registered();
    let Some(real_open) = (*registered.real).xOpen else {
        return ffi::SQLITE_CANTOPEN;
    };
    kept(file).write(Kept { size_at_unmap: -1 });
    let rc = real_open(registered.real, name, file, flags, out_flags);
    let original = (*file).pMethods;
    if rc != ffi::SQLITE_OK || original.is_null() || (*original).iVersion < 3 {
        return rc;
    }
    let methods = METHODS.get_or_init(|| IoMethods {
        original,
        kept: ffi::sqlite3_io_methods {
            xUnfetch: Some(unfetch),
            ..std::ptr::read(original)
        },
    });
    // The unix VFS gives every file of one process the same methods; a file it
    // gave others (another locking style) stays as it is.
    if std::ptr::eq(methods.original, original) {
        (*file).pMethods = &methods.kept;
    }
    if flags & ffi::SQLITE_OPEN_MAIN_DB != 0 {
        grow_in_chunks(file, original);
    }
    rc
}

/// How much the database file grows at a time, in bytes.
pub const CHUNK_SIZE: c_int = 8 << 20;

/// Makes the file grow by whole chunks (`SQLITE_FCNTL_CHUNK_SIZE`). Each
/// checkpoint appends the pages new since the last one; grown a few pages at a
/// time, the file changed size about ten times a second under sign-in load,
/// and every reader then unmapped and mapped it again (the skip in `unfetch`
/// holds only while the size stays). Grown by 8 MB, it changes size once every
/// few thousand sign-ins. SQLite keeps the database's length in its header, so
/// the unused tail is never read; a checkpoint's truncation rounds up to a
/// whole chunk and leaves it.
unsafe fn grow_in_chunks(file: *mut ffi::sqlite3_file, methods: *const ffi::sqlite3_io_methods) {
    let mut chunk = CHUNK_SIZE;
    if let Some(file_control) = (*methods).xFileControl {
        // Only the unix VFS's bookkeeping changes; it cannot fail.
        file_control(
            file,
            ffi::SQLITE_FCNTL_CHUNK_SIZE,
            &mut chunk as *mut c_int as *mut c_void,
        );
    }
}

unsafe extern "C" fn unfetch(
    file: *mut ffi::sqlite3_file,
    offset: i64,
    page: *mut c_void,
) -> c_int {
    let Some(methods) = METHODS.get() else {
        return ffi::SQLITE_MISUSE;
    };
    let original = &*methods.original;
    if page.is_null() {
        let mut size: i64 = 0;
        let rc = match original.xFileSize {
            Some(file_size) => file_size(file, &mut size),
            None => ffi::SQLITE_IOERR,
        };
        let kept = kept(file);
        if rc == ffi::SQLITE_OK && size == (*kept).size_at_unmap {
            SKIPPED_UNMAPS.fetch_add(1, Ordering::Relaxed);
            return ffi::SQLITE_OK;
        }
        (*kept).size_at_unmap = if rc == ffi::SQLITE_OK { size } else { -1 };
    }
    match original.xUnfetch {
        Some(real_unfetch) => real_unfetch(file, offset, page),
        None => ffi::SQLITE_OK,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the unmaps cost is counted by the test in `db.rs` that runs a
    /// server's connections; this only checks registration is idempotent and
    /// SQLite finds the VFS by name.
    #[test]
    fn registers_once_and_sqlite_finds_it() {
        register().unwrap();
        register().unwrap();
        let found = unsafe { ffi::sqlite3_vfs_find(NAME_C.as_ptr()) };
        assert!(!found.is_null());
        assert_eq!(unsafe { CStr::from_ptr((*found).zName) }, NAME_C);
        assert_eq!(NAME_C.to_str().unwrap(), NAME);
    }
}
