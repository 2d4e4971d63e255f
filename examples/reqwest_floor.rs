//! The floor of the HTTP client alone: N PATCHes with reqwest, `C` at once, doing nothing
//! else with the rows (no input, no validation, no echo check, no results file). What this
//! reaches on a runtime's one thread is the most `tecalis-status` could reach with reqwest,
//! whatever it trimmed of its own work (BENCHMARKS.md, section 7).
//!
//!   cargo run --release --example reqwest_floor -- URL ROWS CONCURRENCY [THREADS]
//!
//! THREADS is the runtime's worker threads: 0 (the default) is a current-thread runtime, as
//! `run` uses; 2 is a multi-threaded one with every request its own task, as oha does.

use std::time::Instant;

use futures::StreamExt;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: reqwest_floor URL ROWS CONCURRENCY [THREADS]");
        std::process::exit(2);
    }
    let url: reqwest::Url = args[1].parse().expect("a URL");
    let rows: usize = args[2].parse().expect("a number of rows");
    let concurrency: usize = args[3].parse().expect("a concurrency");
    let threads: usize = args
        .get(4)
        .map_or(0, |t| t.parse().expect("a number of threads"));
    let runtime = match threads {
        0 => tokio::runtime::Builder::new_current_thread(),
        n => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(n);
            builder
        }
    }
    .enable_all()
    .build()
    .expect("a runtime");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(concurrency)
        .tcp_nodelay(true)
        .no_proxy()
        .build()
        .expect("a client");
    let started = Instant::now();
    let ok = runtime.block_on(async {
        let requests = futures::stream::iter(0..rows).map(|i| {
            let client = client.clone();
            let url = url.clone();
            let body = format!(
                r#"{{"auth_uuid":"01930000-0000-7000-8000-{i:012x}","api_key":"bench","state":"OK","reasons":"lote 42"}}"#
            );
            let request = async move {
                let response = client
                    .patch(url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .ok()?;
                let ok = response.status().is_success();
                response.bytes().await.ok()?;
                Some(ok)
            };
            async move {
                match threads {
                    0 => request.await,
                    _ => tokio::spawn(request).await.ok().flatten(),
                }
            }
        });
        requests
            .buffer_unordered(concurrency)
            .filter(|r| futures::future::ready(*r == Some(true)))
            .count()
            .await
    });
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{ok} of {rows} ok in {elapsed:.2} s: {:.0} rows/s",
        rows as f64 / elapsed
    );
}
