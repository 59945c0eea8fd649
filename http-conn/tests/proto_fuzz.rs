//! The connection fuzz bodies (`tests/support`) on random inputs: whatever
//! bytes arrive, in whatever pieces, with whatever the application does,
//! the server never panics and writes only well-framed responses.

mod support;

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        support::fuzz_server(&data);
    }

    /// Mostly well-formed pipelines, so the application side gets
    /// exercised too, mutated here and there.
    #[test]
    fn mutated_pipelines(
        knobs in any::<u8>(),
        controls in proptest::collection::vec(any::<u8>(), 1..40),
        mutations in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
    ) {
        let messages = [
            &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
            b"HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n",
            b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
            b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
            b"POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
            b"GET /old HTTP/1.0\r\n\r\n",
            b"GET /close HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        ];
        let mut stream = Vec::new();
        for control in &controls {
            stream.extend_from_slice(messages[usize::from(*control) % messages.len()]);
        }
        for (at, byte) in &mutations {
            let at = at % stream.len();
            stream[at] = *byte;
        }
        // Interleave: each control byte is followed by the piece it feeds.
        let mut data = vec![knobs];
        let mut at = 0;
        let mut controls = controls.iter().cycle();
        while at < stream.len() {
            let control = *controls.next().unwrap_or(&0);
            let take = (usize::from(control >> 4) + 1).min(stream.len() - at);
            data.push(control);
            data.extend_from_slice(&stream[at..at + take]);
            at += take;
        }
        support::fuzz_server(&data);
    }

    #[test]
    fn client_random_bytes(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        support::fuzz_client(&data);
    }

    /// Mostly well-formed responses, mutated here and there.
    #[test]
    fn client_mutated_responses(
        knobs in any::<u8>(),
        sends in proptest::collection::vec(any::<u8>(), 7),
        picks in proptest::collection::vec(any::<u8>(), 1..8),
        mutations in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
    ) {
        let responses = [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"[..],
            b"HTTP/1.1 100 Continue\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX: y\r\n\r\n",
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\nraw",
            b"HTTP/1.0 200 OK\r\n\r\nuntil close",
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx",
        ];
        let mut stream = Vec::new();
        for pick in &picks {
            stream.extend_from_slice(responses[usize::from(*pick) % responses.len()]);
        }
        for (at, byte) in &mutations {
            let at = at % stream.len();
            stream[at] = *byte;
        }
        let mut data = vec![knobs | 7];
        data.extend_from_slice(&sends);
        data.extend_from_slice(&stream);
        support::fuzz_client(&data);
    }
}

/// Regression, found by the liveness check of the fuzz body: a head with no
/// end that fills the buffer to exactly the head limit (here 64 bytes, fed
/// 16 at a time) must be answered, not leave a server that neither reads
/// nor answers.
#[test]
fn regression_a_head_filling_the_limit_is_answered() {
    let mut head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: ".to_vec();
    head.resize(80, b'a');
    // Knobs 0: a 64-byte head limit; each control byte 0xf0 feeds 16 bytes.
    let mut data = vec![0u8];
    for piece in head.chunks(16) {
        data.push(0xf0);
        data.extend_from_slice(piece);
    }
    support::fuzz_server(&data);
}
