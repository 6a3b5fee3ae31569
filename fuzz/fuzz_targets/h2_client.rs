#![no_main]
// The client's receive path: a real client (nghttp2, the stream table, the multipart decoder,
// dispatch, the queue, the voice turn, the timers) plays the input as a server's bytes over a
// connection without TLS (avs::fuzzing says how the input is read and what is checked).
const CA: &[u8] = include_bytes!("../fixtures/ca.pem");
libfuzzer_sys::fuzz_target!(|data: &[u8]| avs::fuzzing::run(CA, data));
