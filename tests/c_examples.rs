//! The C examples are tests: built with -Wall -Wextra -Werror against include/avs.h and the
//! static library, then run against the local AVS server.

mod common;
use common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::SystemTime;

/// Every file under `dir` with its modification time and length (empty if `dir` is missing).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (SystemTime, u64)> {
    let mut files = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                todo.push(e.path());
            } else {
                files.insert(e.path(), (meta.modified().unwrap(), meta.len()));
            }
        }
    }
    files
}

/// Builds the C example with the debug library for `target` (None: native) where the suite
/// keeps it, and returns the binary. `c-examples/build/` holds what `make -C c-examples` built
/// for the user (README, demo.sh): the suite's debug builds must never replace it, so every
/// build checks that nothing there changed.
fn make_example(target: Option<&str>) -> PathBuf {
    let user_build = repo().join("c-examples/build");
    let before = snapshot(&user_build);
    let dir = repo().join("target/c-examples-test").join(target.unwrap_or("native"));
    let mut cmd = Command::new("make");
    cmd.args(["-C", "c-examples", "PROFILE=debug"]).arg(format!("BUILD={}", dir.display())).current_dir(repo());
    if let Some(t) = target {
        cmd.arg(format!("TARGET={t}"));
    }
    let out = cmd.output().expect("make runs");
    assert!(out.status.success(), "make failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(snapshot(&user_build), before, "the suite's build wrote into c-examples/build/, the user's build directory");
    let bin = dir.join("avs_assistant");
    assert!(!bin.starts_with(&user_build), "the suite's binary {} is in the user's build directory", bin.display());
    bin
}

fn build() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| make_example(None)).clone()
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(build()).args(args).output().expect("avs_assistant runs");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The suite's example is a debug build kept out of `c-examples/build/`, so that after the tests
/// the example a user runs or measures there is still the release one `make -C c-examples` made.
#[test]
fn the_suites_example_build_leaves_c_examples_build_alone() {
    // make_example checks c-examples/build/ around the build; here, that the build happened.
    let bin = build();
    assert!(bin.is_file(), "{} built", bin.display());
}

#[test]
fn assistant_stays_connected_for_run_for_and_handles_directives() {
    let mut server = Server::start(&[]);
    let ep = server.endpoint();
    let ca = certs().join("ca.pem");
    let child = std::thread::spawn(move || run(&["--endpoint", &ep, "--ca-file", ca.to_str().unwrap(), "--token", "test-token", "--run-for", "2", "--ping-interval-ms", "500"]));
    server.cmd(json!({"cmd": "wait_for", "what": "requests", "name": "SynchronizeState", "count": 1, "timeout_ms": 10000}));
    server.cmd(json!({"cmd": "push_directive", "directives": [directive("Speaker", "SetVolume", json!({"volume": 42})), directive("Vendor", "Blink", json!({"times": 3}))]}));
    let (code, stdout, stderr) = child.join().unwrap();
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("state connected"), "{stdout}");
    assert!(stdout.lines().any(|l| l == "volume 42 muted false"), "the software volume: {stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("<- directive Vendor.Blink") && l.contains("3")), "{stdout}");
    assert!(stdout.contains("-> event System.SynchronizeState"), "{stdout}");
    let pings = server.connections()[0]["pings_received"].as_u64().unwrap();
    assert!(pings >= 1, "--ping-interval-ms 500 over 2 s sent {pings} pings");
}

/// `--run-for` against the server's interface demo: one directive of each interface, each
/// visibly handled, every event of the right shape; what survives a restart is in --state-dir.
#[test]
fn assistant_handles_every_interface_and_keeps_its_state() {
    let mut server = Server::start(&["--demo-interfaces"]);
    let ep = server.endpoint();
    let ca = certs().join("ca.pem");
    let state = repo().join("target/c-examples-test/state-dir");
    let _ = std::fs::remove_dir_all(&state);
    std::fs::create_dir_all(&state).unwrap();
    let args = |ep: &str, ca: &str, state: &str| -> Vec<String> {
        ["--endpoint", ep, "--ca-file", ca, "--token", "test-token", "--run-for", "7", "--endpoint-id", "kitchen-speaker", "--state-dir", state, "--firmware-version", "3", "--locale", "en-GB"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let a = args(&ep, ca.to_str().unwrap(), state.to_str().unwrap());
    let (code, stdout, stderr) = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    for want in ["volume 50 muted false", "volume 50 muted true", "indicator on (persist true, audio false https://example.com/a.mp3)", "indicator off", "card RenderTemplate", "card RenderPlayerInfo"] {
        assert!(stdout.lines().any(|l| l.starts_with(want)), "{want:?} missing:\n{stdout}");
    }
    let names = server.event_names();
    for want in ["Speaker.VolumeChanged", "Speaker.MuteChanged", "Alexa.Response", "Alexa.StateReport", "System.SoftwareInfo", "Settings.SettingsUpdated", "Alexa.Discovery.AddOrUpdateReport"] {
        assert!(names.iter().any(|n| n == want), "{want} not sent: {names:?}\n{stdout}");
    }
    let invalid: Vec<Value> = server.requests().into_iter().filter(|r| !r["invalid"].is_null()).collect();
    assert!(invalid.is_empty(), "events of the wrong shape: {invalid:#?}");
    let caps = server.cmd(json!({"cmd": "capabilities"}));
    assert_eq!(caps["capabilities"]["endpoints"][0]["endpointId"], "kitchen-speaker");
    for key in ["capabilities", "software-info", "endpoint"] {
        assert!(state.join(key).is_file(), "--state-dir keeps {key}");
    }
    // A restart with the same state: nothing new to publish.
    let reports = |s: &mut Server| s.event_names().iter().filter(|n| *n == "Alexa.Discovery.AddOrUpdateReport").count();
    let before = reports(&mut server);
    let quiet = Server::start(&[]);
    let a = args(&quiet.endpoint(), ca.to_str().unwrap(), state.to_str().unwrap());
    std::fs::remove_file(state.join("endpoint")).unwrap();
    let mut a: Vec<&str> = a.iter().map(String::as_str).collect();
    a[7] = "1";
    let (code, stdout, stderr) = run(&a);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let mut quiet = quiet;
    assert_eq!(reports(&mut quiet), 0, "capabilities not published again after a restart:\n{stdout}");
    assert_eq!(reports(&mut server), before);
    assert!(!quiet.event_names().iter().any(|n| n == "System.SoftwareInfo"), "SoftwareInfo not sent again for the same version");
}

#[test]
fn assistant_exits_2_naming_the_certificate_problem() {
    let server = Server::start(&[]);
    let (code, stdout, stderr) = run(&[
        "--endpoint", &server.endpoint(),
        "--ca-file", certs().join("other-ca.pem").to_str().unwrap(),
        "--token", "test-token",
        "--connect-timeout", "5",
    ]);
    assert_eq!(code, 2, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("certificate") && stderr.contains("not signed by a trusted CA"), "{stderr}");
}

#[test]
fn assistant_exits_2_when_nothing_answers() {
    // A port with no server: connection refused until the timeout.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (code, _, stderr) = run(&[
        "--endpoint", &format!("https://127.0.0.1:{port}"),
        "--ca-file", certs().join("ca.pem").to_str().unwrap(),
        "--token", "t",
        "--connect-timeout", "1",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("not connected"), "{stderr}");
}

#[test]
fn assistant_rejects_bad_usage() {
    let (code, _, stderr) = run(&["--endpoint"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("needs a value"));
    let (code, _, _) = run(&["--endpoint", "https://x", "--ca-file", "/x", "--token", "t", "--run-for", "abc"]);
    assert_eq!(code, 1);
}

#[test]
fn assistant_runs_a_voice_turn_from_a_wav_and_writes_the_speak_mp3() {
    let mut server = Server::start(&[]);
    server.cmd(json!({"cmd": "recognize_config", "stop_capture_after_bytes": 16000}));
    let out = repo().join("target/test-speech-out.mp3");
    let _ = std::fs::remove_file(&out);
    let (code, stdout, stderr) = run(&[
        "--endpoint", &server.endpoint(),
        "--ca-file", certs().join("ca.pem").to_str().unwrap(),
        "--token", "test-token",
        "--audio-in", fixture("utterance.wav").to_str().unwrap(),
        "--speech-out", out.to_str().unwrap(),
        "--profile", "NEAR_FIELD",
    ]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("<- directive SpeechRecognizer.StopCapture") || stdout.contains("StopCapture"), "{stdout}");
    assert!(stdout.contains("done: 1 of 1 turns answered"), "{stdout}");
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(fixture("speak.mp3")).unwrap(), "Speak bytes written as received");
    let mut count = |name: &str| server.requests().into_iter().filter(|r| r["event"]["name"] == name).count();
    assert_eq!((count("SpeechStarted"), count("SpeechFinished")), (1, 1), "one playback report of each kind:\n{stdout}");
    assert_eq!(stdout.matches("played Speak").count(), 1, "{stdout}");
    let a = server.cmd(json!({"cmd": "audio", "index": -1}));
    let audio = unb64(a["audio_b64"].as_str().unwrap());
    let pcm = wav_pcm(&fixture("utterance.wav"));
    assert!(audio.len() >= 16000 && audio == pcm[..audio.len()], "the WAV's samples, byte for byte, up to StopCapture");
}

#[test]
fn assistant_close_talk_turns_end_where_the_file_ends() {
    let mut server = Server::start(&[]);
    // A short utterance keeps the real-time feed quick: the first 0.5 s of the fixture.
    let pcm = wav_pcm(&fixture("utterance.wav"));
    let short = repo().join("target/test-short.wav");
    let mut wav = Vec::new();
    let data = &pcm[..16000];
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&[1, 0, 1, 0]);
    wav.extend_from_slice(&16000u32.to_le_bytes());
    wav.extend_from_slice(&32000u32.to_le_bytes());
    wav.extend_from_slice(&[2, 0, 16, 0]);
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(data.len() as u32).to_le_bytes());
    wav.extend_from_slice(data);
    std::fs::write(&short, wav).unwrap();
    let (code, stdout, stderr) = run(&[
        "--endpoint", &server.endpoint(),
        "--ca-file", certs().join("ca.pem").to_str().unwrap(),
        "--token", "test-token",
        "--audio-in", short.to_str().unwrap(),
        "--profile", "CLOSE_TALK",
        "--utterances", "2",
    ]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("done: 2 of 2 turns answered"), "{stdout}");
    for i in [-2i64, -1] {
        let a = server.cmd(json!({"cmd": "audio", "index": i}));
        assert_eq!(unb64(a["audio_b64"].as_str().unwrap()), data, "turn {i}: exactly the file");
    }
}

#[test]
fn assistant_fails_a_turn_without_an_answer() {
    let mut server = Server::start(&[]);
    server.cmd(json!({"cmd": "recognize_config", "fail_status": 500}));
    let (code, stdout, stderr) = run(&[
        "--endpoint", &server.endpoint(),
        "--ca-file", certs().join("ca.pem").to_str().unwrap(),
        "--token", "test-token",
        "--audio-in", fixture("utterance.wav").to_str().unwrap(),
        "--profile", "CLOSE_TALK",
    ]);
    assert_eq!(code, 1, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("got no answer"), "{stderr}");
}

#[test]
fn assistant_with_alsa_captures_and_plays_through_real_alsa_devices() {
    // ALSA's `file` plugin over its `null` device: a raw file is the microphone, a WAV file the
    // speaker (tests/fixtures/alsa/asoundrc); no sound card needed.
    let mut server = Server::start(&[]);
    server.cmd(json!({"cmd": "recognize_config", "stop_capture_after_bytes": 16000}));
    let pcm = wav_pcm(&fixture("utterance.wav"));
    let mic = repo().join("target/test-alsa-mic.raw");
    let speaker = repo().join("target/test-alsa-speaker.wav");
    std::fs::write(&mic, &pcm).unwrap();
    let _ = std::fs::remove_file(&speaker);
    let out = Command::new(build())
        .args([
            "--endpoint", &server.endpoint(),
            "--ca-file", certs().join("ca.pem").to_str().unwrap(),
            "--token", "test-token",
            "--alsa", "--profile", "NEAR_FIELD",
        ])
        .env("ALSA_CONFIG_PATH", repo().join("tests/fixtures/alsa/asoundrc"))
        .env("AVS_ALSA_CAPTURE", format!("avs_test_capture:INFILE=\"{}\"", mic.display()))
        .env("AVS_ALSA_PLAYBACK", format!("avs_test_wav:FILE=\"{}\"", speaker.display()))
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("done: 1 of 1 turns answered"), "{stdout}");
    let a = server.cmd(json!({"cmd": "audio", "index": -1}));
    let audio = unb64(a["audio_b64"].as_str().unwrap());
    assert!(audio.len() >= 16000 && audio == pcm[..audio.len()], "the ALSA capture's samples reached AVS intact");
    // The Speak MP3 (22.05 kHz mono, ~1.96 s) decoded and played: the WAV holds about that much.
    let wav = std::fs::read(&speaker).unwrap();
    let seconds = (wav.len() - 44) as f64 / (22050.0 * 2.0);
    assert!((1.8..2.2).contains(&seconds), "speaker got {seconds:.2} s of audio");
    let fin = server.requests().into_iter().filter(|r| r["event"]["name"] == "SpeechFinished").count();
    assert_eq!(fin, 1, "SpeechFinished once the player drained");
}

#[test]
fn assistant_is_clean_under_valgrind() {
    // Memory errors and leaks in the C example or the library, on a whole voice turn.
    if Command::new("valgrind").arg("--version").output().is_err() {
        eprintln!("skipped: valgrind is not installed");
        return;
    }
    let mut server = Server::start(&[]);
    server.cmd(json!({"cmd": "recognize_config", "stop_capture_after_bytes": 6400}));
    let out = Command::new("valgrind")
        .args(["--error-exitcode=97", "--leak-check=full", "--errors-for-leak-kinds=definite,indirect", "--quiet"])
        .arg(build())
        .args([
            "--endpoint", &server.endpoint(),
            "--ca-file", certs().join("ca.pem").to_str().unwrap(),
            "--token", "test-token",
            "--audio-in", fixture("utterance.wav").to_str().unwrap(),
            "--profile", "NEAR_FIELD",
        ])
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "valgrind found errors or the turn failed:\n{stderr}\n{stdout}");
    assert!(stdout.contains("done: 1 of 1 turns answered"), "{stdout}");
}

/// The C example cross-built for each ARM target (`make -C c-examples TARGET=...`), run under
/// qemu-user against the local server: a whole voice turn on armv7 and aarch64. Skipped for a
/// target whose cross compiler or qemu is missing, unless AVS_REQUIRE_CROSS is set (CI sets it).
#[test]
fn assistant_cross_built_for_arm_runs_a_voice_turn_under_qemu() {
    let required = std::env::var_os("AVS_REQUIRE_CROSS").is_some();
    let have = |tool: &str| Command::new(tool).arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
    for (target, triple, qemu) in [
        ("armv7-unknown-linux-gnueabihf", "arm-linux-gnueabihf", "qemu-arm"),
        ("aarch64-unknown-linux-gnu", "aarch64-linux-gnu", "qemu-aarch64"),
    ] {
        if !have(&format!("{triple}-gcc")) || !have(qemu) {
            assert!(!required, "{target}: {triple}-gcc or {qemu} missing (scripts/deps.sh installs them)");
            eprintln!("skipped {target}: {triple}-gcc or {qemu} not installed");
            continue;
        }
        let bin = make_example(Some(target));
        let mut server = Server::start(&[]);
        server.cmd(json!({"cmd": "recognize_config", "stop_capture_after_bytes": 6400}));
        let speech = repo().join(format!("target/test-speech-{target}.mp3"));
        // The target's C library: Debian's cross packages (/usr/<triple>) or multiarch (/).
        let mut tried = Vec::new();
        let mut passed = false;
        for sysroot in [format!("/usr/{triple}"), "/".to_string()] {
            let _ = std::fs::remove_file(&speech);
            let out = Command::new(qemu)
                .args(["-L", &sysroot])
                .arg(&bin)
                .args([
                    "--endpoint", &server.endpoint(),
                    "--ca-file", certs().join("ca.pem").to_str().unwrap(),
                    "--token", "test-token",
                    "--audio-in", fixture("utterance.wav").to_str().unwrap(),
                    "--speech-out", speech.to_str().unwrap(),
                    "--profile", "NEAR_FIELD",
                ])
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            if out.status.code() == Some(0) && stdout.contains("done: 1 of 1 turns answered") {
                assert_eq!(std::fs::read(&speech).unwrap(), std::fs::read(fixture("speak.mp3")).unwrap(), "{target}: Speak bytes as received");
                eprintln!("{target}: voice turn under {qemu} -L {sysroot} answered");
                passed = true;
                break;
            }
            tried.push(format!("-L {sysroot}: exit {:?}\n{stdout}\n{}", out.status.code(), String::from_utf8_lossy(&out.stderr)));
        }
        assert!(passed, "{target}: the voice turn failed under {qemu} with every sysroot:\n{}", tried.join("\n"));
    }
}

/// `--static-memory`: the client's whole budget in a static buffer of the C program, sized with
/// avs_client_memory_required; a voice turn works and the pools are reported from C.
#[test]
fn assistant_runs_a_voice_turn_in_static_memory() {
    let mut server = Server::start(&[]);
    server.cmd(json!({"cmd": "recognize_config", "stop_capture_after_bytes": 6400}));
    let (code, stdout, stderr) = run(&[
        "--endpoint", &server.endpoint(),
        "--ca-file", certs().join("ca.pem").to_str().unwrap(),
        "--token", "test-token",
        "--audio-in", fixture("utterance.wav").to_str().unwrap(),
        "--profile", "NEAR_FIELD",
        "--static-memory",
    ]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("done: 1 of 1 turns answered"), "{stdout}");
    let field = |line: &str, key: &str| -> u64 {
        let at = line.find(key).unwrap_or_else(|| panic!("{key} in {line}")) + key.len();
        line[at..].split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
    };
    let created = stdout.lines().find(|l| l.starts_with("memory: created:")).expect("a memory line after creation");
    let end = stdout.lines().find(|l| l.starts_with("memory: end:")).expect("a memory line at the end");
    assert!(field(created, "reserved ") > 100_000, "{created}");
    assert_eq!(field(created, "reserved "), field(end, "reserved "), "the budget never changes");
    let (http2, tls) = end.split_once("mbedTLS pool").expect("both pools reported");
    let tls = format!("mbedTLS pool{tls}");
    for (pool, key) in [(http2, "nghttp2 pool "), (tls.as_str(), "mbedTLS pool ")] {
        let (capacity, peak, in_use) = (field(pool, key), field(pool, "peak "), field(pool, "in use "));
        assert!(0 < in_use && in_use <= peak && peak <= capacity, "{pool}");
        assert_eq!(field(pool, "refused "), 0, "{pool}");
    }
}

#[test]
fn assistant_signs_in_by_linking_by_remote_authorization_and_then_from_its_state_dir() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut server = Server::start(&[]);
    server.cmd(json!({"cmd": "lwa_config", "interval": 1}));
    let (ep, lwa, ca) = (server.endpoint(), server.lwa_url(), certs().join("ca.pem"));
    let ca = ca.to_str().unwrap();
    let dir = |name: &str| {
        let d = repo().join("target/c-examples-test").join(name);
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    };
    let linked = dir("lwa-linked");
    let base = |state: &Path| -> Vec<String> {
        ["--endpoint", &ep, "--ca-file", ca, "--lwa-url", &lwa, "--client-id", "emu-client-id", "--state-dir", state.to_str().unwrap()].iter().map(|s| s.to_string()).collect()
    };

    // Code-based linking: one line with the code, nothing connected until it is entered.
    let mut args = base(&linked);
    args.extend(["--link", "--product-id", "avs-assistant", "--dsn", "avs-assistant-0001", "--run-for", "4"].map(String::from));
    let mut child = Command::new(build()).args(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    let code = loop {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "no code line:\n{seen}");
        seen.push_str(&line);
        if let Some(rest) = line.strip_prefix("enter code ") {
            let (code, uri) = rest.trim_end().split_once(" at ").unwrap();
            assert_eq!(uri, "https://amazon.com/us/code");
            break code.to_string();
        }
    };
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(server.connections().is_empty(), "connected to nothing else while linking");
    server.cmd(json!({"cmd": "lwa_approve", "user_code": code}));
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let status = child.wait().unwrap();
    let stdout = seen + &rest;
    assert_eq!(status.code(), Some(0), "stdout:\n{stdout}");
    assert_eq!(stdout.matches("enter code ").count(), 1, "one line:\n{stdout}");
    assert!(stdout.contains("state connected"), "{stdout}");
    assert!(linked.join("lwa-refresh-token").is_file(), "the refresh token is kept");

    // The next run needs no sign-in flag at all: the state dir has the client id, the LWA URL
    // and the refresh token, which signs in (and is rotated).
    let kept = std::fs::read_to_string(linked.join("lwa-refresh-token")).unwrap();
    let linked_dir = linked.to_str().unwrap();
    let args: Vec<String> = ["--endpoint", &ep, "--ca-file", ca, "--state-dir", linked_dir, "--run-for", "1"].iter().map(|s| s.to_string()).collect();
    let (code, stdout, stderr) = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let refreshes: Vec<Value> = server.lwa_requests().into_iter().filter(|r| r["fields"]["grant_type"] == "refresh_token").collect();
    assert_eq!(refreshes.last().unwrap()["fields"]["refresh_token"], kept.as_str());
    assert_ne!(std::fs::read_to_string(linked.join("lwa-refresh-token")).unwrap(), kept, "the rotated token replaced it");

    // Remote authorization: a challenge (the verifier stays in the state dir), then the code.
    let remote = dir("lwa-remote");
    let mut args = base(&remote);
    args.push("--remote-auth".into());
    let (code, stdout, stderr) = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let line = stdout.lines().find(|l| l.starts_with("code challenge ")).unwrap_or_else(|| panic!("{stdout}"));
    let challenge = line.strip_prefix("code challenge ").unwrap().strip_suffix(" method S256").unwrap();
    assert_eq!(challenge.len(), 43);
    assert!(remote.join("lwa-code-verifier").is_file());
    let redirect = "https://companion.example/cb";
    let auth_code = server.cmd(json!({"cmd": "lwa_authorization_code", "code_challenge": challenge, "code_challenge_method": "S256", "client_id": "emu-client-id", "redirect_uri": redirect}))["code"].as_str().unwrap().to_string();
    let mut args = base(&remote);
    args.extend(["--auth-code", &auth_code, "--redirect-uri", redirect, "--run-for", "1"].map(String::from));
    let (code, stdout, stderr) = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("state connected"));
    assert!(remote.join("lwa-refresh-token").is_file() && !remote.join("lwa-code-verifier").exists());

    // Linking that nobody completes ends with --run-for; without credentials it says so.
    let mut args = base(&dir("lwa-unlinked"));
    args.extend(["--link", "--product-id", "p", "--dsn", "d", "--run-for", "1"].map(String::from));
    let (code, stdout, stderr) = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 1, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("not linked"), "{stderr}");
    let args = base(&dir("lwa-nothing"));
    let (code, _, stderr) = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 1);
    assert!(stderr.contains("not signed in"), "{stderr}");
}
