//! The C examples are tests: built with -Wall -Wextra -Werror against include/avs.h and the
//! static library, then run against the local AVS server.

mod common;
use common::*;
use std::process::Command;
use std::sync::Once;

fn build() -> std::path::PathBuf {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let out = Command::new("make").args(["-C", "c-examples", "PROFILE=debug"]).current_dir(repo()).output().expect("make runs");
        assert!(out.status.success(), "make failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    });
    repo().join("c-examples/build/avs_assistant")
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(build()).args(args).output().expect("avs_assistant runs");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn assistant_stays_connected_for_run_for_and_handles_directives() {
    let mut server = Server::start(&[]);
    let ep = server.endpoint();
    let ca = certs().join("ca.pem");
    let child = std::thread::spawn(move || run(&["--endpoint", &ep, "--ca-file", ca.to_str().unwrap(), "--token", "test-token", "--run-for", "2", "--ping-interval-ms", "500"]));
    server.cmd(json!({"cmd": "wait_for", "what": "requests", "name": "SynchronizeState", "count": 1, "timeout_ms": 10000}));
    server.cmd(json!({"cmd": "push_directive", "directives": [directive("Speaker", "SetVolume", json!({"volume": 42}))]}));
    let (code, stdout, stderr) = child.join().unwrap();
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("state connected"), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("<- directive Speaker.SetVolume") && l.contains("42")), "{stdout}");
    assert!(stdout.contains("-> event System.SynchronizeState"), "{stdout}");
    let pings = server.connections()[0]["pings_received"].as_u64().unwrap();
    assert!(pings >= 1, "--ping-interval-ms 500 over 2 s sent {pings} pings");
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
