//! Checks behind the fuzz targets, as library functions so that `cargo test` here replays the
//! checked-in corpus (and any crash file) without libFuzzer.
//!
//! - [`multipart::check`]: the streaming decoder against [`multipart::reference`], a
//!   whole-buffer decoder written for obviousness, and against itself fed in other splits.
//! - [`json::check`]: the JSON validator and the directive/exception parsers against serde_json.

pub mod json;
pub mod multipart;
