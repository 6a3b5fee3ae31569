//! Sign-in through the C API against the local server's Login with Amazon endpoints: refresh
//! tokens (with rotation kept in storage and used after a restart), refresh ahead of expiry
//! during a voice turn, a 403 answered by one refresh, permanent and transient failures,
//! code-based linking, remote authorization with PKCE, host-supplied tokens, and secrets kept
//! out of every log line.

mod common;
use common::*;

use avs::ffi::auth::*;
use avs::status::AvsAuthState;
use std::ffi::{c_void, CString};
use std::time::{Duration, Instant};

/// What the sign-in callbacks reported.
#[derive(Default)]
struct AuthRec {
    states: Vec<(AvsAuthState, AvsStatus)>,
    code_pairs: Vec<(String, String, u32)>,
}

unsafe extern "C" fn on_auth_state(ud: *mut c_void, state: AvsAuthState, reason: AvsStatus) {
    (*(ud as *mut AuthRec)).states.push((state, reason));
}

unsafe extern "C" fn on_code_pair(ud: *mut c_void, code: AvsStr, uri: AvsStr, expires_in: u32) {
    let s = |v: AvsStr| String::from_utf8_lossy(std::slice::from_raw_parts(v.data as *const u8, v.len)).into_owned();
    (*(ud as *mut AuthRec)).code_pairs.push((s(code), s(uri), expires_in));
}

/// A client signing in with Login with Amazon at the server's endpoints, with storage and the
/// sign-in callbacks registered.
struct SignIn {
    c: TestClient,
    auth: Box<AuthRec>,
}

/// What the client's `avs_lwa_config` holds.
struct Lwa<'a> {
    client_id: &'a str,
    client_secret: Option<&'a str>,
    refresh_token: Option<&'a str>,
}

const CLIENT_ID: &str = "emu-client-id";

impl SignIn {
    fn new(server: &Server, lwa: Lwa, store: &mut Store, tune: impl FnOnce(&mut AvsConfig)) -> SignIn {
        let url = CString::new(server.lwa_url()).unwrap();
        let id = CString::new(lwa.client_id).unwrap();
        let secret = lwa.client_secret.map(|s| CString::new(s).unwrap());
        let rt = lwa.refresh_token.map(|s| CString::new(s).unwrap());
        let mut cfg = lwa_config(&url, &id, rt.as_deref());
        cfg.client_secret = secret.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
        let c = TestClient::new(server, |c| {
            c.access_token = std::ptr::null();
            c.lwa = &cfg;
            tune(c);
        });
        with_storage(&c, store);
        let mut auth = Box::new(AuthRec::default());
        let h = AvsAuthHandler { user_data: &mut *auth as *mut AuthRec as *mut c_void, on_auth_state: Some(on_auth_state), on_code_pair: Some(on_code_pair) };
        assert_eq!(unsafe { avs_client_set_auth_handler(c.ptr, &h, std::mem::size_of::<AvsAuthHandler>()) }, AvsStatus::Ok);
        SignIn { c, auth }
    }

    fn auth_state(&self) -> AvsAuthState {
        let mut st = AvsAuthState::None;
        assert_eq!(unsafe { avs_client_auth_state(self.c.ptr, &mut st) }, AvsStatus::Ok);
        st
    }

    fn wait(&mut self, what: &str, timeout: Duration, mut pred: impl FnMut(&AuthRec, &Recorder, AvsConnectionState) -> bool) {
        let auth = &*self.auth as *const AuthRec;
        // SAFETY: the callbacks write `auth` only inside polls, not while `pred` reads it.
        let ok = self.c.poll_until(timeout, |r, st| pred(unsafe { &*auth }, r, st));
        assert!(ok, "{what}: auth states {:?}, code pairs {:?}, logs {:#?}", self.auth.states, self.auth.code_pairs, self.c.rec.logs);
    }
}

fn issue_refresh_token(server: &mut Server) -> String {
    server.cmd(json!({"cmd": "lwa_issue_refresh", "client_id": CLIENT_ID}))["refresh_token"].as_str().unwrap().to_string()
}

fn token_requests(server: &mut Server, grant: &str) -> Vec<Value> {
    server.lwa_requests().into_iter().filter(|r| r["path"] == "/auth/o2/token" && r["fields"]["grant_type"] == grant).collect()
}

fn bearer_of(req: &Value) -> String {
    req["headers"]["authorization"].as_str().unwrap_or("").trim_start_matches("Bearer ").to_string()
}

#[test]
fn a_refresh_token_signs_in_and_its_rotation_is_kept_and_used_after_a_restart() {
    let mut server = Server::start(&[]);
    let rt0 = issue_refresh_token(&mut server);
    let mut store = Store::default();
    let mut s = SignIn::new(&server, Lwa { client_id: CLIENT_ID, client_secret: None, refresh_token: Some(&rt0) }, &mut store, |_| {});
    s.c.connect();
    s.c.wait_connected();
    assert_eq!(s.auth_state(), AvsAuthState::Authorized);
    assert_eq!(s.auth.states, vec![(AvsAuthState::Authorizing, AvsStatus::Ok), (AvsAuthState::Authorized, AvsStatus::Ok)]);
    let refreshes = token_requests(&mut server, "refresh_token");
    assert_eq!(refreshes.len(), 1);
    assert_eq!(refreshes[0]["fields"]["refresh_token"], rt0.as_str());
    assert_eq!(refreshes[0]["fields"]["client_id"], CLIENT_ID);
    assert_eq!(refreshes[0]["alpn"], "http/1.1", "the token endpoint is spoken to in HTTP/1.1");
    // AVS saw the access token the server issued, never the harness's static one.
    let issued: Vec<String> = server.cmd(json!({"cmd": "lwa_state"}))["access_tokens"].as_array().unwrap().iter().map(|t| t["token"].as_str().unwrap().to_string()).collect();
    let avs = server.requests();
    assert!(!avs.is_empty());
    for r in &avs {
        assert!(issued.contains(&bearer_of(r)), "AVS request {} with a token the server did not issue", r["path"]);
    }
    // Rotation: the new refresh token is in storage, the old one is revoked.
    let rt1 = String::from_utf8(store.values["lwa-refresh-token"].clone()).unwrap();
    assert_ne!(rt1, rt0);
    drop(s);

    // A restart with no refresh token configured: storage has the rotated one.
    let mut s = SignIn::new(&server, Lwa { client_id: CLIENT_ID, client_secret: None, refresh_token: None }, &mut store, |_| {});
    s.c.connect();
    s.c.wait_connected();
    let refreshes = token_requests(&mut server, "refresh_token");
    assert_eq!(refreshes.len(), 2);
    assert_eq!(refreshes[1]["fields"]["refresh_token"], rt1.as_str(), "the rotated token, from storage");
    assert_eq!(refreshes[1]["status"], 200);
    assert_ne!(String::from_utf8(store.values["lwa-refresh-token"].clone()).unwrap(), rt1, "rotated again");
}

#[test]
fn access_tokens_are_renewed_ahead_of_expiry_while_a_voice_turn_runs_and_nothing_is_dropped() {
    let mut server = Server::start(&[]);
    // Tokens that live 6 s: renewed 1.5 s before they expire (a quarter of their life).
    server.cmd(json!({"cmd": "lwa_config", "access_expires_in": 6}));
    let rt = issue_refresh_token(&mut server);
    let mut store = Store::default();
    let mut s = SignIn::new(&server, Lwa { client_id: CLIENT_ID, client_secret: None, refresh_token: Some(&rt) }, &mut store, |cfg| cfg.audio_ring_bytes = 64000);
    s.c.connect();
    s.c.wait_connected();
    let started = Instant::now();
    let pcm = wav_pcm(&fixture("utterance.wav"));
    let mut turns = 0;
    let mut events = Vec::new();
    // Voice turns and events for 10 s: at least two renewals happen meanwhile.
    while started.elapsed() < Duration::from_secs(10) {
        events.push(s.c.send("Custom", "Ping", "{}").unwrap());
        assert_eq!(s.c.start_turn(AvsProfile::CloseTalk, None), AvsStatus::Ok);
        let sent = s.c.stream_audio(&pcm, Duration::from_millis(2));
        assert_eq!(sent, pcm.len(), "no audio refused mid-turn");
        assert_eq!(unsafe { avs_client_end_audio(s.c.ptr) }, AvsStatus::Ok);
        assert!(s.c.poll_until(Duration::from_secs(10), |r, _| r.speech_done.len() > turns), "turn {turns}: {:#?}", s.c.rec.logs);
        s.c.play_speaks();
        assert!(s.c.poll_until(Duration::from_secs(5), |r, _| r.dialog.last() == Some(&(AvsDialogState::Idle, AvsStatus::Ok))));
        turns += 1;
    }
    for id in &events {
        assert_eq!(s.c.wait_outcome(*id, Duration::from_secs(10)), (AvsStatus::Ok, 204), "event {id}");
    }
    let refreshes = token_requests(&mut server, "refresh_token");
    assert!(refreshes.len() >= 3, "renewed ahead of expiry: {} refreshes in 10 s of 6 s tokens", refreshes.len());
    // No AVS request was refused: every token was renewed before it expired.
    let refused: Vec<_> = server.requests().into_iter().filter(|r| r["status"] == 403).collect();
    assert!(refused.is_empty(), "403s: {refused:?}");
    let recognizes: Vec<_> = server.requests().into_iter().filter(|r| r["event"]["name"] == "Recognize").collect();
    assert_eq!(recognizes.len(), turns);
    for r in &recognizes {
        assert_eq!(r["audio_bytes"].as_u64().unwrap() as usize, pcm.len(), "every turn's audio arrived whole");
    }
    let connected_at = s.c.rec.states.iter().position(|s| s.0 == AvsConnectionState::Connected).unwrap();
    let after: Vec<_> = s.c.rec.states[connected_at..].iter().map(|s| (s.0, s.1)).collect();
    assert_eq!(after, vec![(AvsConnectionState::Connected, AvsStatus::Ok)], "the connection never dropped or waited for a token once connected");
    assert_eq!(s.auth.states.last().unwrap().0, AvsAuthState::Authorized);
}

#[test]
fn a_403_gets_one_refresh_and_the_rejected_event_then_succeeds() {
    let mut server = Server::start(&[]);
    let rt = issue_refresh_token(&mut server);
    let mut store = Store::default();
    let mut s = SignIn::new(&server, Lwa { client_id: CLIENT_ID, client_secret: None, refresh_token: Some(&rt) }, &mut store, |_| {});
    s.c.connect();
    s.c.wait_connected();
    assert_eq!(token_requests(&mut server, "refresh_token").len(), 1);
    // Every token issued so far is now expired at the server: the next request gets 403.
    server.cmd(json!({"cmd": "lwa_expire_access"}));
    let id = s.c.send("Custom", "AfterExpiry", "{}").unwrap();
    assert_eq!(s.c.wait_outcome(id, Duration::from_secs(10)), (AvsStatus::Ok, 204));
    assert_eq!(token_requests(&mut server, "refresh_token").len(), 2, "exactly one refresh for the rejection");
    let tries: Vec<_> = server.requests().into_iter().filter(|r| r["event"]["name"] == "AfterExpiry").collect();
    assert_eq!(tries.len(), 2, "rejected once, then sent again with the new token");
    assert_eq!(tries[0]["status"], 403);
    assert_eq!(tries[1]["status"], 204);
    assert!(s.auth.states.contains(&(AvsAuthState::Authorizing, AvsStatus::TokenRejected)));
    assert_eq!(s.auth_state(), AvsAuthState::Authorized);
    assert!(s.c.rec.outcomes.iter().all(|o| o.1 == AvsStatus::Ok), "no event lost: {:?}", s.c.rec.outcomes);
}

#[test]
fn credentials_refused_for_good_are_reported_once_with_no_retry_storm() {
    let mut server = Server::start(&[]);
    let mut store = Store::default();
    store.values.insert("lwa-refresh-token".into(), b"Atzr|revoked-long-ago".to_vec());
    let mut s = SignIn::new(&server, Lwa { client_id: CLIENT_ID, client_secret: None, refresh_token: None }, &mut store, |_| {});
    s.c.connect();
    s.wait("authorization required", Duration::from_secs(5), |a, _, _| a.states.iter().any(|s| s.0 == AvsAuthState::AuthorizationRequired));
    // Three more seconds of polling: nothing more is asked of LWA, AVS is not tried, and the
    // host may sleep (nothing is due).
    s.c.run_for(Duration::from_secs(3));
    for _ in 0..5 {
        let next = s.c.poll();
        assert!(next >= 60_000, "poll asks to be called again in {next} ms with nothing to do");
    }
    // A 403 or a new connect asks nothing more of Login with Amazon either.
    assert_eq!(unsafe { avs_client_disconnect(s.c.ptr) }, AvsStatus::Ok);
    s.c.connect();
    s.c.run_for(Duration::from_millis(500));
    let requests = server.lwa_requests();
    assert_eq!(requests.len(), 1, "one refresh, refused, and no more: {requests:?}");
    assert_eq!(requests[0]["error"], "invalid_grant");
    let required: Vec<_> = s.auth.states.iter().filter(|s| s.0 == AvsAuthState::AuthorizationRequired).collect();
    assert_eq!(required, vec![&(AvsAuthState::AuthorizationRequired, AvsStatus::AuthorizationRequired)], "reported once");
    assert!(server.connections().is_empty(), "no AVS connection without a token");
    assert_eq!(s.c.state(), AvsConnectionState::Authorizing);
    assert!(!store.values.contains_key("lwa-refresh-token"), "the refused refresh token is forgotten");

    // An unknown client id is refused for good too.
    let rt = issue_refresh_token(&mut server);
    let mut store2 = Store::default();
    let mut s2 = SignIn::new(&server, Lwa { client_id: "nobody", client_secret: None, refresh_token: Some(&rt) }, &mut store2, |_| {});
    s2.c.connect();
    s2.wait("invalid_client", Duration::from_secs(5), |a, _, _| a.states.iter().any(|s| s.0 == AvsAuthState::AuthorizationRequired));
    s2.c.run_for(Duration::from_secs(1));
    assert_eq!(token_requests(&mut server, "refresh_token").iter().filter(|r| r["error"] == "invalid_client").count(), 1);
}

#[test]
fn transient_failures_are_retried_with_growing_gaps_until_a_token_comes() {
    let mut server = Server::start(&[]);
    let rt = issue_refresh_token(&mut server);
    server.cmd(json!({"cmd": "lwa_fail", "count": 2, "status": 503}));
    server.cmd(json!({"cmd": "lwa_fail", "count": 1, "drop": true}));
    server.cmd(json!({"cmd": "lwa_fail", "count": 1, "status": 429}));
    let mut store = Store::default();
    let mut s = SignIn::new(&server, Lwa { client_id: CLIENT_ID, client_secret: None, refresh_token: Some(&rt) }, &mut store, |cfg| {
        cfg.backoff_base_ms = 100;
        cfg.backoff_max_ms = 5000;
    });
    s.c.connect();
    s.c.wait_connected();
    let tries = token_requests(&mut server, "refresh_token");
    assert_eq!(tries.len(), 5, "four failures, then the token: {tries:?}");
    assert_eq!(tries[4]["status"], 200);
    // The delays the client chose: equal jitter over 100·2ⁿ ms, [50,100], [100,200], [200,400],
    // [400,800] ms, so each at least the one before and the last at least 4 times the first.
    let delays: Vec<f64> = s
        .c
        .rec
        .logs
        .iter()
        .filter_map(|(_, l)| l.strip_prefix("retrying Login with Amazon in ").and_then(|r| r.split(' ').next()).map(|ms| ms.parse::<f64>().unwrap() / 1000.0))
        .collect();
    assert_eq!(delays.len(), 4, "{:#?}", s.c.rec.logs);
    for w in delays.windows(2) {
        assert!(w[1] >= w[0], "the delays grow: {delays:?}");
    }
    assert!(delays[3] >= 4.0 * delays[0] && delays[0] >= 0.05, "the delays grow: {delays:?}");
    // And the server saw each retry only after a pause of the order of its delay. The client
    // times the delay from the start of the poll that read the failure, which can be before the
    // server's timestamp of its answer by up to a poll (tens of ms under qemu): half the delay
    // is the bound that cannot be met by a retry without a pause.
    for (i, d) in delays.iter().enumerate() {
        let answered = tries[i]["t_response"].as_f64().unwrap();
        let next = tries[i + 1]["t"].as_f64().unwrap();
        assert!(next - answered >= d * 0.5, "retry {i} came {} s after the failure, its delay was {d} s", next - answered);
    }
    assert_eq!(s.auth.states.last(), Some(&(AvsAuthState::Authorized, AvsStatus::Ok)));
}

#[test]
fn code_based_linking_shows_a_code_polls_slows_down_and_signs_in_once_approved() {
    let mut server = Server::start(&[]);
    server.cmd(json!({"cmd": "lwa_config", "interval": 1}));
    server.cmd(json!({"cmd": "lwa_slow_down", "count": 1}));
    let mut store = Store::default();
    let mut s = SignIn::new(&server, Lwa { client_id: CLIENT_ID, client_secret: None, refresh_token: None }, &mut store, |_| {});
    s.c.connect();
    assert_eq!(s.auth_state(), AvsAuthState::SignedOut, "no refresh token anywhere");
    let (product, dsn) = (CString::new("avs-test-product").unwrap(), CString::new("DSN-0001").unwrap());
    assert_eq!(unsafe { avs_client_start_linking(s.c.ptr, product.as_ptr(), dsn.as_ptr()) }, AvsStatus::Ok);
    s.wait("code pair", Duration::from_secs(5), |a, _, _| !a.code_pairs.is_empty());
    let (code, uri, expires) = s.auth.code_pairs[0].clone();
    assert_eq!(uri, "https://amazon.com/us/code");
    assert!(code.len() == 6 && expires > 0);
    assert_eq!(s.auth_state(), AvsAuthState::Linking);
    let next = s.c.poll();
    assert!(next > 100 && next <= 1000, "while linking, polled again at the next poll of the code pair: {next} ms");
    // Pending polls (the first answered slow_down), then the user enters the code.
    let polls_pending = |server: &mut Server| token_requests(server, "device_code").iter().filter(|r| r["error"] == "authorization_pending").count();
    let end = Instant::now() + Duration::from_secs(10);
    while polls_pending(&mut server) < 2 {
        assert!(Instant::now() < end, "no pending polls: {:?}", server.lwa_requests());
        s.c.run_for(Duration::from_millis(100));
    }
    assert!(server.connections().is_empty(), "nothing but linking until approved");
    let approved = server.cmd(json!({"cmd": "lwa_approve", "user_code": code}));
    assert_eq!(approved["productID"], "avs-test-product");
    assert_eq!(approved["deviceSerialNumber"], "DSN-0001");
    s.c.wait_connected();
    let polls = token_requests(&mut server, "device_code");
    let errors: Vec<&str> = polls.iter().map(|r| r["error"].as_str().unwrap_or("")).collect();
    assert_eq!(errors[0], "slow_down", "{errors:?}");
    assert_eq!(errors.iter().filter(|e| **e == "slow_down").count(), 1, "never polled too fast after slowing down: {errors:?}");
    assert_eq!(*errors.last().unwrap(), "", "the last poll got the tokens");
    let t: Vec<f64> = polls.iter().map(|r| r["t"].as_f64().unwrap()).collect();
    assert!(t[1] - t[0] >= 1.9, "the interval doubled after slow_down: {:?}", t);
    for p in &polls {
        assert_eq!(p["fields"]["user_code"], code.as_str());
    }
    let pair = &server.lwa_requests().into_iter().find(|r| r["path"] == "/auth/o2/create/codepair").unwrap();
    let scope: Value = serde_json::from_str(pair["fields"]["scope_data"].as_str().unwrap()).unwrap();
    assert_eq!(scope, json!({"alexa:all": {"productID": "avs-test-product", "productInstanceAttributes": {"deviceSerialNumber": "DSN-0001"}}}));
    assert!(store.values.contains_key("lwa-refresh-token"), "the refresh token is kept");
    assert_eq!(s.auth_state(), AvsAuthState::Authorized);
}

#[test]
fn an_expired_code_pair_is_replaced_by_a_new_one() {
    let mut server = Server::start(&[]);
    server.cmd(json!({"cmd": "lwa_config", "interval": 1}));
    let mut store = Store::default();
    let mut s = SignIn::new(&server, Lwa { client_id: CLIENT_ID, client_secret: None, refresh_token: None }, &mut store, |_| {});
    let (product, dsn) = (CString::new("p").unwrap(), CString::new("d").unwrap());
    assert_eq!(unsafe { avs_client_start_linking(s.c.ptr, product.as_ptr(), dsn.as_ptr()) }, AvsStatus::Ok);
    s.wait("code pair", Duration::from_secs(5), |a, _, _| a.code_pairs.len() == 1);
    server.cmd(json!({"cmd": "lwa_expire_code_pairs"}));
    s.wait("second code pair", Duration::from_secs(5), |a, _, _| a.code_pairs.len() == 2);
    assert_ne!(s.auth.code_pairs[0].0, s.auth.code_pairs[1].0);
    let code = s.auth.code_pairs[1].0.clone();
    server.cmd(json!({"cmd": "lwa_approve", "user_code": code}));
    s.wait("tokens", Duration::from_secs(5), |a, _, _| a.states.last().map(|s| s.0) == Some(AvsAuthState::Authorized));
    assert!(server.connections().is_empty(), "linking without connect connects nothing");
}

#[test]
fn remote_authorization_refuses_a_code_with_the_wrong_verifier_and_accepts_the_right_one() {
    let mut server = Server::start(&[]);
    let challenge = |s: &SignIn| {
        let mut buf = [0u8; 44];
        assert_eq!(unsafe { avs_client_code_challenge(s.c.ptr, buf.as_mut_ptr() as *mut _, buf.len()) }, AvsStatus::Ok);
        assert_eq!(buf[43], 0);
        String::from_utf8(buf[..43].to_vec()).unwrap()
    };
    let mut store_a = Store::default();
    let mut a = SignIn::new(&server, Lwa { client_id: CLIENT_ID, client_secret: None, refresh_token: None }, &mut store_a, |_| {});
    let challenge_a = challenge(&a);
    assert!(challenge_a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert_eq!(store_a.values["lwa-code-verifier"].len(), 64, "the verifier is kept in storage");
    let redirect = "https://companion.example/cb";
    let code = server.cmd(json!({"cmd": "lwa_authorization_code", "code_challenge": challenge_a, "code_challenge_method": "S256", "client_id": CLIENT_ID, "redirect_uri": redirect}))["code"].as_str().unwrap().to_string();
    let (code_c, redirect_c) = (CString::new(code.as_str()).unwrap(), CString::new(redirect).unwrap());

    // Another device (another verifier) presents the code: refused.
    let mut store_b = Store::default();
    let mut b = SignIn::new(&server, Lwa { client_id: CLIENT_ID, client_secret: None, refresh_token: None }, &mut store_b, |_| {});
    assert_eq!(unsafe { avs_client_authorize(b.c.ptr, code_c.as_ptr(), std::ptr::null(), redirect_c.as_ptr()) }, AvsStatus::WrongState, "no verifier yet");
    let _ = challenge(&b);
    assert_eq!(unsafe { avs_client_authorize(b.c.ptr, code_c.as_ptr(), std::ptr::null(), redirect_c.as_ptr()) }, AvsStatus::Ok);
    b.wait("refused", Duration::from_secs(5), |a, _, _| a.states.iter().any(|s| s.0 == AvsAuthState::AuthorizationRequired));
    let exchanges = token_requests(&mut server, "authorization_code");
    assert_eq!(exchanges.len(), 1);
    assert_eq!(exchanges[0]["error"], "invalid_grant");

    // The device that made the challenge: accepted, after a restart (the verifier from storage).
    drop(a);
    a = SignIn::new(&server, Lwa { client_id: CLIENT_ID, client_secret: None, refresh_token: None }, &mut store_a, |_| {});
    assert_eq!(unsafe { avs_client_authorize(a.c.ptr, code_c.as_ptr(), std::ptr::null(), redirect_c.as_ptr()) }, AvsStatus::Ok);
    a.c.connect();
    a.c.wait_connected();
    let exchanges = token_requests(&mut server, "authorization_code");
    assert_eq!(exchanges.len(), 2);
    assert_eq!(exchanges[1]["status"], 200);
    assert_eq!(exchanges[1]["fields"]["redirect_uri"], redirect);
    assert_eq!(exchanges[1]["fields"]["client_id"], CLIENT_ID);
    assert!(!store_a.values.contains_key("lwa-code-verifier"), "the verifier is used once and forgotten");
    assert!(store_a.values.contains_key("lwa-refresh-token"));
}

#[test]
fn a_host_supplied_token_is_asked_for_again_before_it_expires_and_after_a_rejection() {
    let mut server = Server::start(&[]);
    let mut c = TestClient::new(&server, |_| {});
    let mut auth = Box::new(AuthRec::default());
    let h = AvsAuthHandler { user_data: &mut *auth as *mut AuthRec as *mut c_void, on_auth_state: Some(on_auth_state), on_code_pair: Some(on_code_pair) };
    assert_eq!(unsafe { avs_client_set_auth_handler(c.ptr, &h, std::mem::size_of::<AvsAuthHandler>()) }, AvsStatus::Ok);
    c.connect();
    c.wait_connected();
    // A 2 s lifetime: asked again half a second before the end (a quarter of it).
    let set_at = Instant::now();
    assert_eq!(unsafe { avs_client_set_token_expiry(c.ptr, 2) }, AvsStatus::Ok);
    let auth_ptr = &*auth as *const AuthRec;
    assert!(c.poll_until(Duration::from_secs(4), |_, _| unsafe { &*auth_ptr }.states.contains(&(AvsAuthState::TokenNeeded, AvsStatus::TokenExpiring))));
    let waited = set_at.elapsed();
    assert!(waited >= Duration::from_millis(1400) && waited < Duration::from_millis(2500), "asked after {waited:?}");
    // The server now wants another token: the host is asked, as TOKEN_REJECTED.
    server.cmd(json!({"cmd": "set_token", "token": "second-token"}));
    let id = c.send("Custom", "E", "{}").unwrap();
    assert!(c.poll_until(Duration::from_secs(5), |_, st| st == AvsConnectionState::TokenRejected));
    assert_eq!(auth.states.last(), Some(&(AvsAuthState::TokenNeeded, AvsStatus::TokenRejected)));
    let t = CString::new("second-token").unwrap();
    assert_eq!(unsafe { avs_client_set_token(c.ptr, t.as_ptr()) }, AvsStatus::Ok);
    assert_eq!(c.wait_outcome(id, Duration::from_secs(10)), (AvsStatus::Ok, 204));
    assert_eq!(auth.states.last(), Some(&(AvsAuthState::None, AvsStatus::Ok)));
    // No Login with Amazon here: its calls are refused.
    let p = CString::new("p").unwrap();
    assert_eq!(unsafe { avs_client_start_linking(c.ptr, p.as_ptr(), p.as_ptr()) }, AvsStatus::WrongState);
    let mut buf = [0u8; 44];
    assert_eq!(unsafe { avs_client_code_challenge(c.ptr, buf.as_mut_ptr() as *mut _, 44) }, AvsStatus::WrongState);
    assert_eq!(unsafe { avs_client_set_refresh_token(c.ptr, p.as_ptr()) }, AvsStatus::WrongState);
}

#[test]
fn sign_in_calls_check_their_arguments() {
    let server = Server::start(&[]);
    let mut store = Store::default();
    let s = SignIn::new(&server, Lwa { client_id: CLIENT_ID, client_secret: None, refresh_token: None }, &mut store, |_| {});
    let p = CString::new("p").unwrap();
    unsafe {
        assert_eq!(avs_client_start_linking(std::ptr::null_mut(), p.as_ptr(), p.as_ptr()), AvsStatus::NullArgument);
        assert_eq!(avs_client_start_linking(s.c.ptr, std::ptr::null(), p.as_ptr()), AvsStatus::NullArgument);
        let empty = CString::new("").unwrap();
        assert_eq!(avs_client_start_linking(s.c.ptr, empty.as_ptr(), p.as_ptr()), AvsStatus::InvalidArgument);
        let mut buf = [0u8; 44];
        assert_eq!(avs_client_code_challenge(s.c.ptr, buf.as_mut_ptr() as *mut _, 43), AvsStatus::InvalidArgument, "no room for the NUL");
        assert_eq!(avs_client_code_challenge(s.c.ptr, std::ptr::null_mut(), 44), AvsStatus::NullArgument);
        assert_eq!(avs_client_authorize(s.c.ptr, std::ptr::null(), std::ptr::null(), p.as_ptr()), AvsStatus::NullArgument);
        assert_eq!(avs_client_set_refresh_token(s.c.ptr, empty.as_ptr()), AvsStatus::InvalidArgument);
        let bad = CString::new("a\tb").unwrap();
        assert_eq!(avs_client_set_refresh_token(s.c.ptr, bad.as_ptr()), AvsStatus::InvalidArgument);
        assert_eq!(avs_client_set_auth_handler(s.c.ptr, std::ptr::null(), 24), AvsStatus::NullArgument);
        let h = AvsAuthHandler { user_data: std::ptr::null_mut(), on_auth_state: None, on_code_pair: None };
        assert_eq!(avs_client_set_auth_handler(s.c.ptr, &h, 8), AvsStatus::InvalidArgument, "a size that cuts the struct");
        assert_eq!(avs_lwa_config_init(std::ptr::null_mut()), AvsStatus::NullArgument);
        assert_eq!(avs_client_auth_state(s.c.ptr, std::ptr::null_mut()), AvsStatus::NullArgument);
    }
    // Configurations: an lwa struct without its size, a bad URL, no client id.
    let try_new = |edit: &dyn Fn(&mut AvsLwaConfig)| {
        let url = CString::new(server.lwa_url()).unwrap();
        let id = CString::new(CLIENT_ID).unwrap();
        let mut lwa = lwa_config(&url, &id, None);
        edit(&mut lwa);
        TestClient::with_ca(&server.endpoint(), &certs().join("ca.pem"), |c| {
            c.access_token = std::ptr::null();
            c.lwa = &lwa;
        })
        .map(|_| ())
    };
    assert_eq!(try_new(&|_| {}), Ok(()));
    assert_eq!(try_new(&|l| l.size = 8), Err(AvsStatus::InvalidArgument));
    let http = CString::new("http://insecure.example").unwrap();
    assert_eq!(try_new(&|l| l.url = http.as_ptr()), Err(AvsStatus::BadConfig));
    assert_eq!(try_new(&|l| l.client_id = std::ptr::null()), Err(AvsStatus::BadConfig));
    // Without lwa the access token is still required.
    assert_eq!(TestClient::with_ca(&server.endpoint(), &certs().join("ca.pem"), |c| c.access_token = std::ptr::null()).err(), Some(AvsStatus::NullArgument));
}

#[test]
fn no_secret_given_to_or_obtained_by_the_library_appears_in_any_log_line() {
    let mut server = Server::start(&["--lwa-client", "secret-client:client-s3cr3t-Vb7q"]);
    server.cmd(json!({"cmd": "lwa_config", "interval": 1, "access_expires_in": 3}));
    let mut store = Store::default();
    let mut s = SignIn::new(&server, Lwa { client_id: "secret-client", client_secret: Some("client-s3cr3t-Vb7q"), refresh_token: None }, &mut store, |cfg| cfg.log_level = AvsLogLevel::Debug as u32);
    // Linking, approval, connection, refreshes ahead of expiry, a 403 and its refresh.
    let p = CString::new("avs-test-product").unwrap();
    assert_eq!(unsafe { avs_client_start_linking(s.c.ptr, p.as_ptr(), p.as_ptr()) }, AvsStatus::Ok);
    s.c.connect();
    s.wait("code pair", Duration::from_secs(5), |a, _, _| !a.code_pairs.is_empty());
    let code = s.auth.code_pairs[0].0.clone();
    s.c.run_for(Duration::from_millis(1500));
    server.cmd(json!({"cmd": "lwa_approve", "user_code": code}));
    s.c.wait_connected();
    s.c.run_for(Duration::from_secs(4));
    server.cmd(json!({"cmd": "lwa_expire_access"}));
    let id = s.c.send("Custom", "E", "{}").unwrap();
    assert_eq!(s.c.wait_outcome(id, Duration::from_secs(10)).0, AvsStatus::Ok);
    let mut buf = [0u8; 44];
    assert_eq!(unsafe { avs_client_code_challenge(s.c.ptr, buf.as_mut_ptr() as *mut _, 44) }, AvsStatus::Ok);
    let verifier = String::from_utf8(store.values["lwa-code-verifier"].clone()).unwrap();

    let state = server.cmd(json!({"cmd": "lwa_state"}));
    // Every secret the server issued or knows, less the user codes (shown to the user, no
    // secret; the host gets them through on_code_pair).
    let mut secrets: Vec<String> = state["secrets"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).filter(|v| !s.auth.code_pairs.iter().any(|c| &c.0 == v)).collect();
    secrets.push(verifier);
    secrets.push("client-s3cr3t-Vb7q".into());
    let refreshes = token_requests(&mut server, "refresh_token").len();
    assert!(refreshes >= 2, "refreshed ahead of expiry and after the 403 ({refreshes})");
    assert!(secrets.len() >= 6, "tokens, device code, client secret, verifier: {}", secrets.len());
    let logs = &s.c.rec.logs;
    assert!(logs.len() > 20 && logs.iter().any(|l| l.0 == AvsLogLevel::Debug), "every level captured ({} lines)", logs.len());
    for secret in &secrets {
        // A secret's distinctive part: the server's tokens share their `Atza|`/`Atzr|` prefix.
        let needle = secret.rsplit('|').next().unwrap();
        assert!(needle.len() >= 8, "{secret}");
        for (_, line) in logs {
            assert!(!line.contains(needle), "a secret in a log line: {line}");
        }
    }
}

#[test]
fn the_sign_in_session_is_in_the_memory_plan_and_works_from_host_memory() {
    let mut server = Server::start(&[]);
    let rt = issue_refresh_token(&mut server);
    let strings = strings_for(&server, "test-token");
    let (url, id, rt_c) = (CString::new(server.lwa_url()).unwrap(), CString::new(CLIENT_ID).unwrap(), CString::new(rt).unwrap());
    let lwa = lwa_config(&url, &id, Some(&rt_c));
    let mut cfg = default_config(&strings);
    let (mut without, mut with) = (0usize, 0usize);
    assert_eq!(unsafe { avs_client_memory_required(&cfg, &mut without) }, AvsStatus::Ok);
    cfg.access_token = std::ptr::null();
    cfg.lwa = &lwa;
    assert_eq!(unsafe { avs_client_memory_required(&cfg, &mut with) }, AvsStatus::Ok);
    // The session's pool, and the request, response and secret buffers (17,728 B).
    assert_eq!(with - without, lwa.tls_memory_bytes as usize + 17_728, "{with} - {without}");
    let mut bad = lwa;
    bad.size = 3;
    cfg.lwa = &bad;
    assert_eq!(unsafe { avs_client_memory_required(&cfg, &mut with) }, AvsStatus::InvalidArgument);
    cfg.lwa = &lwa;

    // A client in host memory (one byte short is refused) signs in and connects.
    let mut memory = vec![0u8; with];
    cfg.memory = memory.as_mut_ptr() as *mut c_void;
    cfg.memory_bytes = with - 1;
    let mut rec = Box::new(Recorder::default());
    let cbs = recorder_callbacks(&mut rec);
    let mut ptr = std::ptr::null_mut();
    assert_eq!(unsafe { avs_client_new(&cfg, &cbs, &mut ptr) }, AvsStatus::NoMemory);
    cfg.memory_bytes = with;
    assert_eq!(unsafe { avs_client_new(&cfg, &cbs, &mut ptr) }, AvsStatus::Ok);
    let mut c = TestClient { ptr, rec };
    c.connect();
    c.wait_connected();
    let mut m = AvsMemoryStats::default();
    assert_eq!(unsafe { avs_client_memory_stats(c.ptr, &mut m) }, AvsStatus::Ok);
    assert_eq!(m.sign_in.capacity, lwa.tls_memory_bytes as usize);
    assert!(m.sign_in.peak > 10_000 && m.sign_in.refused == 0, "a TLS session's worth: {:?}", m.sign_in);
    eprintln!("token endpoint session: pool {} B, peak {} B, {} allocations; reserved {with} B (without sign-in {without} B)", m.sign_in.capacity, m.sign_in.peak, m.sign_in.allocations);
    drop(c);
    // Nothing secret left in the host's memory after the free.
    let token = rt_c.as_bytes();
    assert!(!memory.windows(token.len()).any(|w| w == token), "the refresh token was wiped from host memory");
    let issued = server.cmd(json!({"cmd": "lwa_state"}));
    for t in issued["access_tokens"].as_array().unwrap().iter().chain(issued["refresh_tokens"].as_array().unwrap()) {
        let t = t["token"].as_str().unwrap().as_bytes();
        assert!(!memory.windows(t.len()).any(|w| w == t), "a token left in host memory");
    }
}

#[test]
fn a_product_whose_every_token_avs_refuses_gets_growing_pauses_not_a_loop() {
    let mut server = Server::start(&[]);
    server.cmd(json!({"cmd": "lwa_config", "avs_rejects_issued": true}));
    let rt = issue_refresh_token(&mut server);
    let mut store = Store::default();
    let mut s = SignIn::new(&server, Lwa { client_id: CLIENT_ID, client_secret: None, refresh_token: Some(&rt) }, &mut store, |cfg| {
        cfg.backoff_base_ms = 100;
        cfg.backoff_max_ms = 2000;
    });
    s.c.connect();
    s.c.run_for(Duration::from_secs(5));
    let refreshes = token_requests(&mut server, "refresh_token");
    let connections = server.connections().len();
    // A refresh at connect, one at once for the first 403, then pauses of [50,100], [100,200],
    // [200,400], [400,800], [800,1600] ms... — not the 60 a second a loop would make.
    assert!((3..=9).contains(&refreshes.len()), "{} refreshes in 5 s", refreshes.len());
    assert!(connections <= refreshes.len() + 1, "{connections} AVS connections for {} tokens", refreshes.len());
    let t: Vec<f64> = refreshes.iter().map(|r| r["t"].as_f64().unwrap()).collect();
    let gaps: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.last().unwrap() > &(2.0 * gaps[1]), "the pauses grow: {gaps:?}");
    // Still cycling (waiting for a token, or connecting with the newest one), never connected.
    assert!(s.c.rec.states.iter().all(|st| st.0 != AvsConnectionState::Connected), "{:?}", s.c.rec.states.iter().map(|s| s.0).collect::<Vec<_>>());
    // Once AVS accepts the tokens, the next one connects and stays.
    server.cmd(json!({"cmd": "lwa_config", "avs_rejects_issued": false}));
    s.c.wait_connected();
}
