//! The Latchkey server: storage, accounts, the HTTP layer and the command line.

pub mod accounts;
pub mod audit;
pub mod backend;
pub mod bootstrap;
pub mod cli;
pub mod config;
pub mod db;
pub mod entities;
pub mod http;
pub mod password;
pub mod sessions;
pub mod throttle;
