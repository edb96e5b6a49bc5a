//! Loopback ports for test servers, reserved machine-wide (shared by the
//! integration tests and the library's own PostgreSQL tests).

use std::fs::File;
use std::net::TcpListener;
use std::sync::Mutex;

/// A free loopback port for a test server, reserved for this test process.
///
/// Not `bind(0)`: the kernel may hand the same ephemeral port to a test
/// running in parallel, or to an outgoing connection, before our server binds
/// it; pingora then retries the bind forever while `wait_for_port` connects
/// to the other server. Ports come from below the ephemeral range
/// (32768-60999 on Linux). Each is reserved machine-wide by an exclusive lock
/// on a file named after it, held until this process exits (nextest runs each
/// test in its own process), so no two test processes — of this suite or of
/// another checkout's running beside it — get the same port, even before its
/// server binds it; it is also checked free by binding.
pub fn free_port() -> u16 {
    const FIRST: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static HELD: Mutex<Vec<File>> = Mutex::new(Vec::new());
    let dir = std::env::temp_dir().join("imbridge-test-ports");
    std::fs::create_dir_all(&dir).expect("create the port reservation dir");
    let start = std::process::id() % SPAN;
    for n in 0..SPAN {
        let port = u16::try_from(FIRST + (start + n) % SPAN).expect("port");
        let Ok(reservation) = File::create(dir.join(port.to_string())) else {
            continue;
        };
        if reservation.try_lock().is_ok() && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            HELD.lock().expect("held ports").push(reservation);
            return port;
        }
    }
    panic!("no free port in {FIRST}..{}", FIRST + SPAN);
}
