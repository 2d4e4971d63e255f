//! Durations as a person writes them: `850ms`, `3.8s`, `29s`, `1m 5s`, `2h 5m`.

use std::time::Duration;

/// `d` as a person writes it, the one form every message uses: milliseconds below a second
/// (`850ms`), seconds to a tenth below ten (`3.8s`, `2s`), whole seconds below a minute
/// (`29s`), then whole units from the largest, the zero ones left out (`1m 5s`, `1h 2s`,
/// `2d 3h`). Rounded to the nearest shown unit; never `29s 2ms`.
pub fn human_duration(d: Duration) -> String {
    if d.is_zero() {
        return "0s".to_string();
    }
    let millis = d.as_secs_f64() * 1000.0;
    if millis < 999.5 {
        return format!("{}ms", millis.round().max(1.0) as u64);
    }
    let tenths = (d.as_secs_f64() * 10.0).round() as u64;
    if tenths < 100 {
        return match tenths % 10 {
            0 => format!("{}s", tenths / 10),
            t => format!("{}.{t}s", tenths / 10),
        };
    }
    let mut seconds = d.as_secs_f64().round() as u64;
    let mut parts = Vec::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        let n = seconds / size;
        seconds %= size;
        if n > 0 {
            parts.push(format!("{n}{unit}"));
        }
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_a_person_writes_them() {
        let ms = Duration::from_millis;
        for (d, shown) in [
            (ms(0), "0s"),
            (Duration::from_micros(300), "1ms"),
            (ms(850), "850ms"),
            (ms(999), "999ms"),
            (ms(1_000), "1s"),
            (ms(2_500), "2.5s"),
            (ms(3_849), "3.8s"),
            (ms(9_960), "10s"),
            (ms(29_002), "29s"),
            (ms(59_700), "1m"),
            (ms(65_000), "1m 5s"),
            (ms(3_600_000), "1h"),
            (ms(3_602_000), "1h 2s"),
            (ms(93_784_000), "1d 2h 3m 4s"),
        ] {
            assert_eq!(human_duration(d), shown, "{d:?}");
        }
    }
}
