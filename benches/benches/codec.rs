//! The write and read paths' codecs: a record (chunk of frames) encoded with
//! its CRC, decoded and verified; a picture needle encoded (copy, MD5,
//! CRCs). Raw CRC32 of the same bytes is the reference line.

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pstor_core::internals::{decode_record, encode_needle, encode_record};
use pstor_core::{PictureMeta, Timestamp};
use std::hint::black_box;

/// Frames of a 4 Mbit/s H.264-like camera at 25 fps (a 60 KB key frame,
/// then 12 KB frames) until the chunk holds `bytes`.
fn frames(bytes: usize, key_len: usize, small_len: usize) -> Vec<(Timestamp, bool, Bytes)> {
    let data = Bytes::from((0..key_len).map(|i| (i * 7) as u8).collect::<Vec<u8>>());
    let mut out = Vec::new();
    let mut total = 0;
    let mut i = 0i64;
    while total < bytes {
        let key = i % 50 == 0;
        let f = data.slice(..if key { key_len } else { small_len });
        total += f.len();
        out.push((1_000_000 + i * 40_000, key, f));
        i += 1;
    }
    out
}

fn record(c: &mut Criterion) {
    for (name, chunk) in
        [("1MiB_4mbps", frames(1 << 20, 60_000, 12_000)), ("64KiB_small", frames(64 << 10, 4_000, 2_000))]
    {
        let payload: u64 = chunk.iter().map(|f| f.2.len() as u64).sum();
        let mut g = c.benchmark_group(format!("record/{name}"));
        g.throughput(Throughput::Bytes(payload));
        g.bench_function("encode", |b| b.iter(|| encode_record(7, black_box(&chunk))));
        let encoded = Bytes::from(encode_record(7, &chunk));
        g.bench_function("decode_verify", |b| {
            b.iter(|| decode_record(black_box(&encoded)).expect("valid record").len())
        });
        g.bench_function("crc32_reference", |b| b.iter(|| crc32fast::hash(black_box(&encoded))));
        g.finish();
    }
}

fn needle(c: &mut Criterion) {
    let data: Vec<u8> = (0..100 << 10).map(|i: usize| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let meta = PictureMeta {
        camera_id: "cam-17".into(),
        captured_at: 1_795_392_000_000_000,
        content_type: "image/jpeg".into(),
        key: None,
    };
    let mut g = c.benchmark_group("needle/100KiB");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("encode", |b| b.iter(|| encode_needle(&meta, black_box(&data))));
    g.bench_function("crc32_reference", |b| b.iter(|| crc32fast::hash(black_box(&data))));
    g.finish();
}

criterion_group!(benches, record, needle);
criterion_main!(benches);
