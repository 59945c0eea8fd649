//! One HTTP/1.x connection, in either role.
//!
//! - [`proto`]: the sans-IO state machine of a connection — every transition
//!   of the message cycle in one place, time passed in, no IO. It decides
//!   framing, keep-alive, pipelining order, `100 Continue`, timeouts and when
//!   to close.
//! - [`server`]: the tokio driver of a server connection — reads, feeds
//!   `proto`, runs the application's [`Handler`](server::Handler) for each
//!   request, writes the responses in batches.
//! - [`client`]: the tokio driver of a client connection — a cloneable
//!   [`SendRequest`](client::SendRequest) queue in front, requests pipelined
//!   in call order, responses matched back to their callers.
//! - [`upgrade`]: the transport handed over after `101` or CONNECT.
//! - [`WriteBuf`]: the outgoing bytes of a connection, batched: heads and
//!   small pieces copied into one buffer, large payloads queued without
//!   copying, ready for one vectored write.
//! - [`ReceivedHead`]: a message's head as received (field case and order),
//!   in the extensions of the `http` requests and responses handed out.

#![deny(missing_docs)]

mod body;
pub mod client;
mod convert;
mod io;
pub mod proto;
pub mod server;
pub mod upgrade;
mod write_buf;

pub use convert::ReceivedHead;
pub use write_buf::WriteBuf;
