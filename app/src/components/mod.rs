//! Building blocks shared by several pages.

pub mod fields;
pub mod header;
pub mod icons;
pub mod pager;
pub mod stacked_table;

pub use header::AppHeader;
