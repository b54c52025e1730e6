//! Many writers at once on one server: client threads (some with a client
//! of their own, some sharing one) append to several streams each,
//! interleaved, sync, and then read back exactly what they wrote.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use pstor_client::{connect, Backend};
use pstor_core::*;
use pstor_server::config::KindName;
use std::sync::{Arc, Barrier};

const THREADS: usize = 8;
const STREAMS_PER_THREAD: usize = 3;
const FRAMES: u64 = 300;

#[test]
fn eight_client_threads_append_concurrently_and_read_back_what_they_wrote() {
    let ts = TestServer::with(|cfg| {
        *cfg = config(cfg.data_dir.parent().unwrap(), 160, &[("video", KindName::Video, 128)]);
    });
    let pool = ts.pool("video");
    // Threads 0..4 each connect; threads 4..8 share one client.
    let shared = ts.client();
    let start = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let b: Arc<dyn Backend> = if t < THREADS / 2 { connect(ts.options()).unwrap() } else { shared.clone() };
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                let streams: Vec<StreamId> = (0..STREAMS_PER_THREAD)
                    .map(|k| b.register_stream(camera(pool, &format!("cam-{t}-{k}"))).unwrap())
                    .collect();
                let seed = |k: usize| (t * 100 + k) as u64;
                start.wait();
                for i in 0..FRAMES {
                    for (k, &s) in streams.iter().enumerate() {
                        let f = frame(seed(k), T0, i, 1500 + 500 * k);
                        b.append(s, f.ts, f.key, f.data).unwrap();
                    }
                    if i % 100 == 99 {
                        b.sync_streams(&streams).unwrap();
                    }
                }
                b.sync_streams(&streams).unwrap();
                // Read after write: every frame, in order, with its bytes.
                for (k, &s) in streams.iter().enumerate() {
                    let want: Vec<Frame> = (0..FRAMES).map(|i| frame(seed(k), T0, i, 1500 + 500 * k)).collect();
                    let got = read_all(&*b, s, T0, T0 + FRAMES as i64 * 40_000).unwrap();
                    assert_eq!(got.len(), want.len(), "thread {t} stream {k}");
                    assert!(got == want, "thread {t} stream {k}: the bytes read are the bytes written");
                }
                streams
            })
        })
        .collect();
    let all: Vec<StreamId> = threads.into_iter().flat_map(|h| h.join().unwrap()).collect();
    assert_eq!(all.len(), THREADS * STREAMS_PER_THREAD);
    // The server saw every stream complete.
    let engine = ts.server().engine();
    for s in all {
        assert_eq!(engine.stream(s).unwrap().last_ts, Some(T0 + (FRAMES as i64 - 1) * 40_000));
    }
    shared.close().unwrap();
}
