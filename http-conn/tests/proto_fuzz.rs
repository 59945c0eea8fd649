//! The connection fuzz body (`tests/support`) on random inputs: whatever
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
}
