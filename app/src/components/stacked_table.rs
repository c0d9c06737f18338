//! Classes for a table that reads as a table from the `md` breakpoint up and as
//! a stack of cards below it, so a phone never scrolls sideways. Each cell
//! carries `data-label` with its column's name, shown before it on a card.

pub const TABLE: &str = "block w-full text-left text-sm md:table md:table-auto md:border-collapse";
/// Column headings: only on wide screens (each card labels its own cells).
pub const HEAD: &str = "hidden md:table-header-group";
pub const BODY: &str = "block md:table-row-group";
pub const ROW: &str =
    "mb-3 block rounded-lg border border-slate-200 p-3 md:mb-0 md:table-row md:rounded-none md:border-0 md:border-b md:border-slate-100 md:p-0 md:align-top";
/// A cell; on a card its `data-label` comes first, as a small heading.
pub const CELL: &str = "block py-0.5 md:table-cell md:py-2 md:pr-3 before:mr-2 before:text-xs before:font-semibold before:uppercase before:tracking-wide before:text-slate-500 before:content-[attr(data-label)] md:before:content-none";
