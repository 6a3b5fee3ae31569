//! Replays every file in corpus/<target>/ (the seeds and whatever a fuzz run added) and
//! artifacts/<target>/ (crashes, once fixed) through the targets' checks, without libFuzzer.

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for dir in ["corpus", "artifacts"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for e in entries {
            let path = e.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            let r = std::panic::catch_unwind(|| check(&data));
            assert!(r.is_ok(), "{} fails", path.display());
            n += 1;
        }
    }
    assert!(n > 0, "no corpus for {target}");
}

#[test]
fn multipart_corpus() {
    replay("multipart", avs_fuzz::multipart::check);
}

#[test]
fn json_corpus() {
    replay("json", avs_fuzz::json::check);
}

#[test]
fn h2_client_corpus() {
    replay("h2_client", |data| avs::fuzzing::run(include_bytes!("../fixtures/ca.pem"), data));
}
