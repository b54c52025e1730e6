//! pstor-http's request conditions on arbitrary header values: `Range`
//! against files of arbitrary lengths, the conditional headers against a
//! validator. Never a panic; a range it grants lies inside the file.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use pstor_http::{evaluate, parse_date, parse_range, system_time, tag_matches, Conditions, RangeAsk};

#[derive(Arbitrary, Debug)]
struct Input {
    range: String,
    len: u64,
    if_match: Option<String>,
    if_none_match: Option<String>,
    if_modified_since: Option<String>,
    if_unmodified_since: Option<String>,
    if_range: Option<String>,
    modified_us: i64,
    get: bool,
}

fuzz_target!(|i: Input| {
    match parse_range(&i.range, i.len) {
        RangeAsk::Part { first, last } => assert!(first <= last && last < i.len, "{first}-{last} of {}", i.len),
        RangeAsk::Unsatisfiable | RangeAsk::Whole | RangeAsk::Several => {}
    }
    let etag = "\"0123456789abcdef\"";
    let c = Conditions {
        if_match: i.if_match.as_deref(),
        if_none_match: i.if_none_match.as_deref(),
        if_modified_since: i.if_modified_since.as_deref(),
        if_unmodified_since: i.if_unmodified_since.as_deref(),
        if_range: i.if_range.as_deref(),
    };
    let _ = evaluate(&c, etag, system_time(i.modified_us), i.get);
    for v in [i.range.as_str(), i.if_match.as_deref().unwrap_or_default()] {
        let _ = tag_matches(v, etag, true);
        let _ = parse_date(v);
    }
});
