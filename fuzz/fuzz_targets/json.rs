#![no_main]
// The JSON validator and the directive/exception parsers against serde_json
// (avs_fuzz::json::check says what is compared).
libfuzzer_sys::fuzz_target!(|data: &[u8]| avs_fuzz::json::check(data));
