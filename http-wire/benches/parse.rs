//! Head parsing, gruvi-wire beside httparse on the same inputs.
//!
//! gruvi-wire's side does all it does in production: parse with full
//! validation (Host rules, target form), then decide framing and keep-alive.
//! httparse's side only parses. Run with `cargo bench -p gruvi-wire`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gruvi_wire::{
    Limits, RequestParser, ResponseParser, request_framing, response_framing, wants_keep_alive,
};

const GET_40: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n";

const BROWSER_700: &[u8] = b"GET /wp-content/uploads/2010/03/hello-kitty-darth-vader-pink.jpg HTTP/1.1\r\n\
Host: www.kittyhell.com\r\n\
User-Agent: Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10_6_3; ja-JP-mac; rv:1.9.2.3) Gecko/20100401 Firefox/3.6.3 Pathtraq/0.9\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
Accept-Language: ja,en-us;q=0.7,en;q=0.3\r\n\
Accept-Encoding: gzip,deflate\r\n\
Accept-Charset: Shift_JIS,utf-8;q=0.7,*;q=0.7\r\n\
Keep-Alive: 115\r\n\
Connection: keep-alive\r\n\
Cookie: wp_ozh_wsa_visits=2; wp_ozh_wsa_visit_lasttime=xxxxxxxxxx; __utma=xxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.x; __utmz=xxxxxxxxx.xxxxxxxxxx.x.x.utmccn=(referral)|utmcsr=reader.livedoor.com|utmcct=/reader/|utmcmd=referral\r\n\
Referer: http://www.kittyhell.com/2010/03/hello-kitty-darth-vader/\r\n\r\n";

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\n\
Date: Tue, 24 Nov 2026 15:00:00 GMT\r\n\
Server: Apache/2.4.57 (Debian)\r\n\
Last-Modified: Mon, 23 Nov 2026 10:00:00 GMT\r\n\
ETag: \"2d-5f1e0c2a3b4c5\"\r\n\
Accept-Ranges: bytes\r\n\
Content-Length: 45\r\n\
Cache-Control: max-age=3600\r\n\
Content-Type: text/html; charset=UTF-8\r\n\r\n";

fn request_30_fields() -> Vec<u8> {
    let mut buf = b"POST /api/v2/orders?include=items HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 0\r\n".to_vec();
    for i in 0..28 {
        buf.extend_from_slice(format!("X-Trace-Field-{i:02}: value-{i:02}-abcdefg\r\n").as_bytes());
    }
    buf.extend_from_slice(b"\r\n");
    buf
}

fn parse_requests(c: &mut Criterion) {
    let large = request_30_fields();
    let inputs: [(&str, &[u8]); 3] = [
        ("get_40b", GET_40),
        ("browser_700b", BROWSER_700),
        ("fields_30_1kb", &large),
    ];
    for (name, input) in inputs {
        let mut group = c.benchmark_group(format!("request/{name}"));
        group.throughput(Throughput::Bytes(input.len() as u64));
        let mut parser = RequestParser::new(Limits::default());
        group.bench_function("gruvi-wire", |b| {
            b.iter(|| {
                let buf = black_box(input);
                let (head, n) = parser.parse(buf).unwrap().complete().unwrap();
                let framing = request_framing(head, buf).unwrap();
                let keep_alive = wants_keep_alive(head.version(), head.fields(), buf);
                black_box(head);
                black_box((n, framing, keep_alive))
            })
        });
        group.bench_function("httparse", |b| {
            b.iter(|| {
                let mut headers = [httparse::EMPTY_HEADER; 64];
                let mut request = httparse::Request::new(&mut headers);
                let n = request.parse(black_box(input)).unwrap();
                black_box((n, request.headers.len()))
            })
        });
        group.finish();
    }
}

fn parse_responses(c: &mut Criterion) {
    let mut group = c.benchmark_group("response/typical");
    group.throughput(Throughput::Bytes(RESPONSE.len() as u64));
    let mut parser = ResponseParser::new(Limits::default());
    group.bench_function("gruvi-wire", |b| {
        b.iter(|| {
            let buf = black_box(RESPONSE);
            let (head, n) = parser.parse(buf).unwrap().complete().unwrap();
            let framing = response_framing(b"GET", head, buf).unwrap();
            black_box(head);
            black_box((n, framing))
        })
    });
    group.bench_function("httparse", |b| {
        b.iter(|| {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut response = httparse::Response::new(&mut headers);
            let n = response.parse(black_box(RESPONSE)).unwrap();
            black_box((n, response.headers.len()))
        })
    });
    group.finish();
}

criterion_group!(benches, parse_requests, parse_responses);
criterion_main!(benches);
