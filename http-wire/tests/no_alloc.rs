//! Parsing a head of up to 32 fields, deciding its framing and reading its
//! connection options allocates nothing: counted by a global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use gruvi_wire::{Limits, RequestParser, request_framing, wants_keep_alive};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// thread-local counter does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

fn head_with_fields(n: usize) -> Vec<u8> {
    let mut buf = b"POST /upload HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\nConnection: keep-alive\r\n".to_vec();
    for i in 3..n {
        buf.extend_from_slice(format!("X-Field-{i}: value {i}\r\n").as_bytes());
    }
    buf.extend_from_slice(b"\r\nhello");
    buf
}

#[test]
fn parsing_32_fields_does_not_allocate_but_33_may() {
    let limits = Limits::default();
    let mut parser = RequestParser::new(limits);

    let buf = head_with_fields(32);
    let count = allocations_during(|| {
        let (head, _) = parser.parse(&buf).unwrap().complete().unwrap();
        assert_eq!(head.fields().len(), 32);
        request_framing(head, &buf).unwrap();
        assert!(wants_keep_alive(head.version(), head.fields(), &buf));
    });
    assert_eq!(count, 0, "parsing a 32-field head allocated");

    // Byte by byte too.
    let count = allocations_during(|| {
        for end in 1..buf.len() {
            let _ = parser.parse(&buf[..end]).unwrap();
        }
    });
    assert_eq!(count, 0, "incremental parsing allocated");

    // The counter is live: a 33rd field moves the list to the heap.
    let mut parser = RequestParser::new(limits);
    let buf = head_with_fields(33);
    let count = allocations_during(|| {
        parser.parse(&buf).unwrap().complete().unwrap();
    });
    assert!(count > 0, "33 fields should have spilled to the heap");
}
