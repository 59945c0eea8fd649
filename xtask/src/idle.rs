//! Resident memory a server spends per idle keep-alive connection: the
//! bench's memory rows.
//!
//! From this process, opens the connections in batches (so the server's
//! listen backlog never overflows), sends one `GET /` on each and reads
//! the whole response, then leaves them open and idle and reads how much
//! the server's `VmRSS` grew. Each connection is a file descriptor here
//! and in the server: `ulimit -n` must allow them.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::client_load::current_thread;
use crate::load::response_length;
use crate::process::{Server, resident_kib};

/// Connections opened at once: well under the listen backlog.
const BATCH: usize = 200;

/// Time the server gets to settle once every connection is idle.
const SETTLE: Duration = Duration::from_secs(1);

/// Opens `connections` idle keep-alive connections to `server`; returns
/// its resident memory before and after, and the growth per connection.
pub(crate) fn kib_per_connection(server: &Server, connections: usize) -> Result<Value, String> {
    let pid = server.child.id();
    let rss = || resident_kib(pid).ok_or("cannot read the server's VmRSS");
    let runtime = current_thread()?;
    let before = rss()?;
    let open = runtime.block_on(async {
        let mut open = Vec::with_capacity(connections);
        while open.len() < connections {
            let batch = BATCH.min(connections - open.len());
            let opened = (0..batch).map(|_| one_request(&server.addr));
            open.extend(futures::future::try_join_all(opened).await.map_err(|e| {
                format!(
                    "after {} connections: {e} (`ulimit -n` must exceed {connections})",
                    open.len()
                )
            })?);
        }
        tokio::time::sleep(SETTLE).await;
        Ok::<_, String>(open)
    })?;
    let after = rss()?;
    drop(open);
    Ok(json!({
        "connections": connections,
        "rss_before_kib": before,
        "rss_after_kib": after,
        "kib_per_connection": (after as f64 - before as f64) / connections as f64,
    }))
}

/// A connection that has had one request answered, left open.
async fn one_request(addr: &str) -> Result<TcpStream, String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connecting to {addr}: {e}"))?;
    let request = format!("GET / HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    loop {
        if response_length(&response).is_some_and(|length| response.len() >= length) {
            return Ok(stream);
        }
        if stream
            .read_buf(&mut response)
            .await
            .map_err(|e| e.to_string())?
            == 0
        {
            return Err("the server closed the connection".to_owned());
        }
    }
}
