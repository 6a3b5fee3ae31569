//! avs — an Alexa Voice Service device client with a C API.
//!
//! Layers, bottom to top (each knows only the ones below it):
//! - [`protocol`]: multipart encoding/decoding and the JSON message model; pure, `no_std`, no allocation.
//! - `transport`: bytes to the network (POSIX sockets or host callbacks), TLS (mbedTLS), HTTP/2 (nghttp2).
//! - `client`: the connection state machine, the event queue, dispatch of directives, timers from `now_ms`.
//! - `ffi`: the C surface (`include/avs.h`): handles, config, callbacks, status codes, the panic boundary.
#![cfg_attr(not(feature = "std"), no_std)]

pub mod protocol;
pub mod status;

#[cfg(feature = "std")]
pub mod transport;
#[cfg(feature = "std")]
pub mod client;
#[cfg(feature = "std")]
pub mod ffi;
#[cfg(feature = "alsa")]
pub mod audio;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
