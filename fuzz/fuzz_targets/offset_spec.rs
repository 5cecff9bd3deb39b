//! kcons's `-o` parser (kcons::offset::OffsetSpec) on any text: it never panics,
//! accepted offsets are never negative, and the canonical spelling of an accepted
//! spec parses back to the same spec.
#![no_main]

use kcons::offset::OffsetSpec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match text.parse::<OffsetSpec>() {
        Ok(spec) => {
            let canonical = match spec {
                OffsetSpec::Beginning => "beginning".to_string(),
                OffsetSpec::End => "end".to_string(),
                OffsetSpec::Stored => "stored".to_string(),
                OffsetSpec::At(n) => {
                    assert!(n >= 0, "{text:?} gave offset {n}");
                    n.to_string()
                }
                OffsetSpec::FromEnd(n) => {
                    assert!(n > 0, "{text:?} gave -{n}");
                    format!("-{n}")
                }
                OffsetSpec::Timestamp(ms) => {
                    assert!(ms >= 0, "{text:?} gave @{ms}");
                    format!("@{ms}")
                }
            };
            assert_eq!(
                canonical.parse::<OffsetSpec>(),
                Ok(spec),
                "{text:?} -> {canonical:?}"
            );
        }
        Err(message) => assert!(message.starts_with("bad offset"), "{text:?}: {message}"),
    }
});
