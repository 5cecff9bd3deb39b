//! The connection settings parsers of kcore::connection on any text: `-X key=value`
//! (parse_property), a `-F` properties file (parse_properties_text, the body of
//! read_properties_file) and broker lists (parse_broker_list). None panics; what
//! they accept is well formed and survives being written out and parsed again.
#![no_main]

use kcore::connection::{parse_broker_list, parse_properties_text, parse_property};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    if let Ok((key, value)) = parse_property(text) {
        assert!(
            !key.is_empty() && !key.contains(char::is_whitespace),
            "{text:?} gave key {key:?}"
        );
        assert_eq!(parse_property(&format!("{key}={value}")), Ok((key, value)));
    }

    match parse_properties_text(text) {
        Ok(properties) => {
            let mut written = String::new();
            for (key, value) in &properties {
                assert!(
                    !key.is_empty() && !key.contains(char::is_whitespace),
                    "{text:?} gave key {key:?}"
                );
                assert_eq!(value.trim(), value, "{text:?}: untrimmed value");
                written.push_str(&format!("{key}={value}\n"));
            }
            assert_eq!(
                parse_properties_text(&written),
                Ok(properties),
                "{text:?} -> {written:?}"
            );
        }
        Err(message) => {
            let line: usize = message
                .split(':')
                .next()
                .and_then(|n| n.parse().ok())
                .expect("the error starts with a line number");
            assert!(
                line >= 1 && line <= text.lines().count(),
                "{text:?}: {message}"
            );
        }
    }

    if let Ok(list) = parse_broker_list(text) {
        assert_eq!(
            parse_broker_list(&list).as_deref(),
            Ok(list.as_str()),
            "{text:?} is not normalised once and for all"
        );
        for entry in list.split(',') {
            let port: u32 = entry
                .rsplit(':')
                .next()
                .and_then(|p| p.parse().ok())
                .expect("a port");
            assert!((1..=65535).contains(&port), "{entry}");
        }
    }
});
