//! Throughput of the multipart decoder on an AVS-like response: one Speak directive (~600 bytes
//! of JSON) and a 1 MiB binary attachment, fed in 320-byte, 1 KiB and 16 KiB pieces.
//!
//! `cargo bench --bench multipart` — plain `std::time::Instant`, no harness.

use std::hint::black_box;
use std::time::{Duration, Instant};

use avs::protocol::multipart::{Decoder, PartSink};

const BOUNDARY: &str = "a3f1c9e2-5b7d-4e8a-9c0f-1d2b3c4e5f60";
const CONTENT_ID: &str = "DeviceTTSRendererV4_3b9f2a1c-8d4e-4f6a-b2c7-9e0d1f3a5b7c:1.2#speech_0";

/// Counts what the decoder delivers, so the work cannot be optimised away.
#[derive(Default)]
struct Count {
    json: usize,
    binary: usize,
    parts: usize,
}

impl PartSink for Count {
    fn on_json_part(&mut self, body: &[u8]) {
        self.json += body.len();
        self.parts += 1;
    }
    fn on_binary_part(&mut self, _content_id: &[u8], data: &[u8], last: bool) {
        self.binary += data.len();
        self.parts += usize::from(last);
    }
}

fn response() -> Vec<u8> {
    let speak = format!(
        r#"{{"directive":{{"header":{{"namespace":"SpeechSynthesizer","name":"Speak","messageId":"5f0e4a8c-2b1d-4c3e-9f7a-6d8b0c1e2f3a","dialogRequestId":"0c9d8e7f-6a5b-4c3d-2e1f-0a9b8c7d6e5f"}},"payload":{{"url":"cid:{CONTENT_ID}","format":"AUDIO_MPEG","token":"amzn1.as-ct.v1.Domain:Application:Knowledge#ACRI#{CONTENT_ID}#{pad}","caption":{{"type":"WEBVTT","content":"WEBVTT\n\n1\n00:00.000 --> 00:01.500\nIt is sunny today."}}}}}}}}"#,
        pad = "x".repeat(120)
    );
    // xorshift: incompressible bytes, with a CR every 256 bytes on average as in real MP3 data.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let audio: Vec<u8> = (0..1 << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let mut msg = Vec::new();
    msg.extend_from_slice(
        format!("\r\n--{BOUNDARY}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n")
            .as_bytes(),
    );
    msg.extend_from_slice(speak.as_bytes());
    msg.extend_from_slice(
        format!("\r\n--{BOUNDARY}\r\nContent-ID: <{CONTENT_ID}>\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
    );
    msg.extend_from_slice(&audio);
    msg.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    println!(
        "response: {} bytes (Speak JSON {} bytes, attachment {} bytes)",
        msg.len(),
        speak.len(),
        audio.len()
    );
    msg
}

fn run(msg: &[u8], piece: usize) {
    let mut decoder = Decoder::new(vec![0u8; 8 * 1024].into_boxed_slice());
    let decode = |decoder: &mut Decoder<Box<[u8]>>| {
        let mut sink = Count::default();
        decoder.reset(BOUNDARY.as_bytes()).unwrap();
        for chunk in msg.chunks(piece) {
            decoder.feed(black_box(chunk), &mut sink).unwrap();
        }
        decoder.finish(&mut sink).unwrap();
        assert_eq!(sink.parts, 2);
        black_box(sink.json + sink.binary)
    };
    // Warm up, then run for about a second.
    for _ in 0..20 {
        decode(&mut decoder);
    }
    let mut iterations = 0u64;
    let start = Instant::now();
    let mut elapsed = Duration::ZERO;
    while elapsed < Duration::from_secs(1) {
        for _ in 0..50 {
            decode(&mut decoder);
        }
        iterations += 50;
        elapsed = start.elapsed();
    }
    let bytes = msg.len() as f64 * iterations as f64;
    let secs = elapsed.as_secs_f64();
    println!(
        "multipart decode, {:>5}-byte pieces: {:>9.1} MB/s  {:>6.2} GB/s  ({} iterations, {:.1} us per response)",
        piece,
        bytes / secs / 1e6,
        bytes / secs / 1e9,
        iterations,
        secs * 1e6 / iterations as f64
    );
}

fn main() {
    let msg = response();
    for piece in [1024, 320, 16 * 1024] {
        run(&msg, piece);
    }
}
