//! Picture ids: the 32-character text form parsed and formatted (every get
//! by an HTTP path parses one), and the 24-byte binary form.

use criterion::{criterion_group, criterion_main, Criterion};
use pstor_core::{PictureId, SpaceId};
use std::hint::black_box;
use std::str::FromStr;

fn picture_id(c: &mut Criterion) {
    let id = PictureId {
        space: SpaceId(3),
        segment: 1_234,
        generation: 77,
        offset: 40_960,
        len: 102_512,
        cookie: 0xdead_beef,
    };
    let text = id.to_string();
    let bytes = id.to_bytes();
    let mut g = c.benchmark_group("picture_id");
    g.bench_function("parse_text", |b| b.iter(|| PictureId::from_str(black_box(&text)).expect("valid id")));
    g.bench_function("format_text", |b| b.iter(|| black_box(&id).to_string()));
    g.bench_function("from_bytes", |b| b.iter(|| PictureId::from_bytes(black_box(&bytes)).expect("valid id")));
    g.finish();
}

criterion_group!(benches, picture_id);
criterion_main!(benches);
