//! The bar's layout at narrow and wide terminals, the pace and the counts line.

use super::*;

#[test]
fn the_counts_line_names_only_what_happened() {
    let mut counts = Counts::default();
    counts[Outcome::Ok] = 9;
    counts[Outcome::Unauthorized] = 3;
    assert_eq!(counts_line(&counts), "ok 9, unauthorized 3");
    assert_eq!(counts_line(&Counts::default()), "no rows");
}

#[test]
fn the_pace_counts_only_rows_sent_and_shows_a_pause() {
    let progress = Progress::new(100, false, Duration::from_secs(5));
    let counts = Counts::default();
    let idle = Status {
        done: 50,
        counts: &counts,
        sent: 0,
        paused: None,
        rate: None,
    };
    assert_eq!(progress.pace(&idle), "0.0 rows/s, about unknown left");
    let paused = Status {
        sent: 10,
        paused: Some((Duration::from_millis(2_100), true)),
        ..idle
    };
    let (_, message) = fit(&progress.fields(&paused), GRAPHIC, 200);
    assert!(
        message.starts_with("50/100 rows · paused (Retry-After 3s) · no rows · "),
        "{message}"
    );
    assert!(message.contains(" rows/s · ETA "), "{message}");
    let throttled = Status {
        paused: Some((Duration::from_secs(1), false)),
        ..paused
    };
    assert!(progress.pace(&throttled).ends_with(", paused (429 1s)"));
    let auto = Status {
        rate: Some(38.04),
        ..paused
    };
    let (_, message) = fit(&progress.fields(&auto), GRAPHIC, 200);
    assert!(
        message.contains(" rows/s (auto rate 38.0/s) · ETA "),
        "{message}"
    );
    assert!(
        progress
            .pace(&auto)
            .contains(" rows/s (auto rate 38.0/s), about "),
        "{}",
        progress.pace(&auto)
    );
}

/// Every number of `fields` that `line` shows is whole: a field is in the line entirely
/// or not at all.
fn whole_fields(fields: &[Field], line: &str) -> Vec<String> {
    fields
        .iter()
        .filter(|f| line.contains(&f.text))
        .map(|f| f.text.clone())
        .collect()
}

#[test]
fn a_narrow_terminal_loses_whole_fields_never_part_of_a_number() {
    let progress = Progress::new(1313, false, Duration::from_secs(5));
    let mut counts = Counts::default();
    counts[Outcome::Ok] = 1179;
    counts[Outcome::Skipped] = 131;
    counts[Outcome::Unauthorized] = 3;
    let status = Status {
        done: 1313,
        counts: &counts,
        sent: 1182,
        paused: Some((Duration::from_secs(30), true)),
        rate: Some(26.2),
    };
    let fields = progress.fields(&status);
    let (graphic, wide) = fit(&fields, GRAPHIC, 150);
    assert!(graphic, "{wide}");
    assert_eq!(whole_fields(&fields, &wide).len(), fields.len(), "{wide}");
    let (graphic, narrow) = fit(&fields, GRAPHIC, 60);
    assert!(!graphic);
    assert_eq!(narrow, "1313/1313 rows · paused (Retry-After 30s)");
    let running = Status {
        paused: None,
        ..status
    };
    let fields = progress.fields(&running);
    let (graphic, narrow) = fit(&fields, GRAPHIC, 60);
    assert!(!graphic);
    assert_eq!(
        narrow,
        "1313/1313 rows · ok 1179, skipped 131, unauthorized 3"
    );
    let (graphic, middle) = fit(&fields, GRAPHIC, 90);
    assert!(!graphic, "{middle}");
    assert!(middle.ends_with(" rows/s · ETA 0s"), "{middle}");
    assert!(!middle.contains("auto rate"), "{middle}");
    // Never wider than asked while something can go, and never a field cut.
    for width in 20..160 {
        let (graphic, line) = fit(&fields, GRAPHIC, width);
        let columns = line.chars().count() + if graphic { BAR_WIDTH + 1 } else { 0 };
        assert!(columns <= width.max(14), "{width}: {line}");
        let kept = whole_fields(&fields, &line);
        let joined: usize = kept.iter().map(|t| t.chars().count()).sum();
        assert!(
            line.chars().count() - joined <= 3 * kept.len(),
            "{width}: {line}"
        );
    }
}

#[test]
fn the_bar_drawn_at_60_and_150_columns_fits_and_cuts_no_number() {
    for (width, graphic) in [(60u16, false), (150, true)] {
        let file = tempfile::tempfile().unwrap();
        let screen = crate::terminal::Screen::new(file.try_clone().unwrap(), Some(width));
        let mut progress = Progress::new(1313, false, Duration::from_secs(3600));
        progress.bar = Some(Bar::Prompt(
            Progress::prompt_bar(1313, screen.clone()),
            screen,
        ));
        let mut counts = Counts::default();
        counts[Outcome::Ok] = 1179;
        counts[Outcome::Skipped] = 131;
        let status = Status {
            done: 1313,
            counts: &counts,
            sent: 1182,
            paused: None,
            rate: None,
        };
        progress.show(status);
        if let Some(Bar::Prompt(bar, _)) = &progress.bar {
            bar.tick();
            bar.finish();
        }
        drop(progress);
        let mut screen = String::new();
        std::io::Read::read_to_string(
            &mut std::io::BufReader::new({
                let mut f = file;
                std::io::Seek::rewind(&mut f).unwrap();
                f
            }),
            &mut screen,
        )
        .unwrap();
        let frame = screen
            .split(['\r', '\n'])
            .map(|l| l.trim_start_matches("\u{1b}[2K"))
            .map(str::trim_end)
            .rfind(|l| l.contains(" rows"))
            .unwrap_or_else(|| panic!("no frame at {width} columns: {screen:?}"))
            .to_string();
        assert!(frame.chars().count() <= width.into(), "{width}: {frame:?}");
        assert!(
            frame.contains("1313/1313 rows · ok 1179, skipped 131 · "),
            "{width}: {frame:?}"
        );
        assert_eq!(
            frame.contains('░') || frame.contains('█'),
            graphic,
            "{width}: {frame:?}"
        );
        assert_eq!(frame.contains(" rows/s"), graphic, "{width}: {frame:?}");
        assert_eq!(
            frame.ends_with("ETA 0s · 0s"),
            graphic,
            "{width}: {frame:?}"
        );
    }
}
