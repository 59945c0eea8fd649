//! One HTTP/1.x connection, in either role.
//!
//! - [`proto`]: the sans-IO state machine of a connection — every transition
//!   of the message cycle in one place, time passed in, no IO. It decides
//!   framing, keep-alive, pipelining order, `100 Continue`, timeouts and when
//!   to close.
//! - [`WriteBuf`]: the outgoing bytes of a connection, batched: heads and
//!   small pieces copied into one buffer, large payloads queued without
//!   copying, ready for one vectored write.
//!
//! The tokio driver that runs a `proto` connection over a socket is not
//! written yet.

#![deny(missing_docs)]

pub mod proto;
mod write_buf;

pub use write_buf::WriteBuf;
