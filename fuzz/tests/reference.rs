//! The reference decoder gives the answers the unit tests of avs_core::multipart expect, so
//! agreement with it means something.

use avs_core::multipart::MultipartError::*;
use avs_fuzz::multipart::{reference, Ev, FINISH};

fn events(
    msg: &[u8],
    b: &str,
    cap: usize,
) -> (Vec<Ev>, Result<(), avs_core::multipart::MultipartError>) {
    let d = reference(msg, b.as_bytes(), cap);
    (d.events.into_iter().map(|(e, _)| e).collect(), d.result)
}
fn json(s: &str) -> Ev {
    Ev::Json(s.as_bytes().to_vec())
}
fn bin(id: &str, d: &[u8]) -> Ev {
    Ev::Bin(id.as_bytes().to_vec(), d.to_vec())
}

#[test]
fn reference_answers() {
    assert_eq!(
        events(b"--b\r\nContent-Type: application/json\r\n\r\n{\"a\":1}\r\n--b\r\nContent-ID: x\r\n\r\n\r\n--\r\n--b-\r\n--b--", "b", 64),
        (vec![json("{\"a\":1}"), bin("x", b"\r\n--")], Ok(()))
    );
    assert_eq!(
        events(b"--b\r\n--b\r\n\r\n--b  \r\n\r\n\r\n--b\r\nContent-Type: application/json\r\n\r\n{\"x\":1}\r\n--b\r\n--b\r\nContent-Type: application/json\r\n\r\n\r\n--b--\r\n", "b", 64),
        (vec![json("{\"x\":1}")], Ok(()))
    );
    assert_eq!(
        events(b"--b\r\nCONTENT-TYPE: Application/JSON\r\n\r\n{}\r\n--b\r\ncOnTeNt-Id:   plain:id_1.2#3  \r\nX-Other: y\r\n\r\nD1\r\n--b\r\nContent-Id:<w>\nContent-Type:application/octet-stream\n\nD2\r\n--b--", "b", 64),
        (vec![json("{}"), bin("plain:id_1.2#3", b"D1"), bin("w", b"D2")], Ok(()))
    );
    let big = "x".repeat(100);
    let msg = [
        b"--b\r\nContent-Type: application/json\r\n\r\n",
        big.as_bytes(),
        b"\r\n--b\r\n\r\n{\"ok\":1}\r\n--b\r\nContent-ID: <big>\r\n\r\n",
        big.as_bytes(),
        b"\r\n--b--",
    ]
    .concat();
    assert_eq!(
        events(&msg, "b", 64),
        (
            vec![
                Ev::Err(PartTooLarge),
                json("{\"ok\":1}"),
                bin("big", big.as_bytes())
            ],
            Ok(())
        )
    );
    let msg = [
        b"--b\r\nX: ",
        "z".repeat(80).as_bytes(),
        b"\r\n--b\r\n\r\n{}\r\n--b--",
    ]
    .concat();
    assert_eq!(
        events(&msg, "b", 32),
        (vec![Ev::Err(HeadersTooLarge), json("{}")], Ok(()))
    );
    assert_eq!(
        events(b"--b\r\nbad\r\n--b\r\n\r\n{}\r\n--b--", "b", 64),
        (vec![Ev::Err(MalformedHeaders), json("{}")], Ok(()))
    );
    assert_eq!(
        events(b"--BB\r\nContent-Disposition: form-data; name=\"audio\"\r\nContent-Type: application/octet-stream\r\n\r\n\x01\r\n--BB--\r\n", "BB", 64),
        (vec![bin("audio", b"\x01")], Ok(()))
    );
    assert_eq!(events(b"no multipart here", "b", 64), (vec![], Ok(())));
    assert_eq!(
        events(b"--b\r\n\r\n{\"cut", "b", 64),
        (vec![], Err(Truncated))
    );
    assert_eq!(
        events(b"--b\r\n\r\n{\"cut", "b", 3),
        (vec![Ev::Err(PartTooLarge)], Err(Truncated))
    );
    // Held back (may begin a delimiter), so not counted against the storage.
    assert_eq!(
        events(b"--b\r\n\r\nab\r\n-", "b", 3),
        (vec![], Err(Truncated))
    );
    let d = reference(b"--b\r\nContent-ID: <c>\r\n\r\nabc\r\n--", b"b", 64);
    assert_eq!(d.events, vec![(bin("c", b"abc\r\n--"), Some(FINISH))]);
    // Due the moment the delimiter is complete.
    let d = reference(b"--b\r\n\r\n{}\r\n--b\r\n", b"b", 64);
    assert_eq!(d.events, vec![(json("{}"), Some(14))]);
}
