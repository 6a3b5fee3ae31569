//! The AVS wire protocol, from the `no_std`, allocation-free `avs-core` crate
//! (`crates/avs-core`): multipart encoding and streaming decoding, the JSON message model.

pub use avs_core::{json, message, multipart, Overflow};
