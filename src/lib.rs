//! avs — an Alexa Voice Service device client with a C API.
//!
//! Layers, bottom to top (each knows only the ones below it):
//! - [`protocol`]: multipart encoding/decoding and the JSON message model; pure, `no_std`, no allocation.
//! - `transport`: bytes to the network (POSIX sockets or host callbacks), TLS (mbedTLS), HTTP/2 (nghttp2).
//! - `interfaces`: one module per AVS interface: its directives, context entry, events and timers.
//! - `client`: the connection state machine, the event queue, the router's input (parts of
//!   responses), timers from `now_ms`; nothing in it is specific to one interface.
//! - `ffi`: the C surface (`include/avs.h`): handles, config, callbacks, status codes, the panic boundary.
#![cfg_attr(not(feature = "std"), no_std)]

pub mod protocol;
pub mod status;

#[cfg(feature = "std")]
pub mod host;
#[cfg(feature = "std")]
pub mod memory;
#[cfg(feature = "std")]
pub mod ring;
#[cfg(feature = "std")]
pub mod transport;
#[cfg(feature = "std")]
pub mod interfaces;
#[cfg(feature = "std")]
pub mod auth;
#[cfg(feature = "std")]
pub mod client;
#[cfg(feature = "std")]
pub mod ffi;
#[cfg(feature = "alsa")]
pub mod audio;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
