//! Building blocks shared by several pages.

pub mod announcer;
pub mod fields;
pub mod header;
pub mod icons;
pub mod pager;
pub mod request_id;
pub mod stacked_table;

pub use announcer::{use_announcer, Announcements};
pub use header::AppHeader;
