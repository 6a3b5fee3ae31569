#![no_main]
// The streaming multipart decoder against the reference decoder, in arbitrary splits
// (avs_fuzz::multipart::check says how the input is read).
libfuzzer_sys::fuzz_target!(|data: &[u8]| avs_fuzz::multipart::check(data));
