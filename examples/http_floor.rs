//! The floor of each HTTP layer, alone: N PATCHes, `C` at once, on one runtime thread as `run`
//! uses, doing nothing else with the rows (no input, no validation, no echo check, no results
//! file). `reqwest` is the client the tool uses: what it reaches is the most the tool could
//! reach, whatever it trimmed of its own work. `legacy` is hyper-util's pooled client (what
//! reqwest wraps); `conn` is hyper's bare HTTP/1 connections, one task each, C of them (what
//! oha does). BENCHMARKS.md, section 7.
//!
//!   cargo run --release --example http_floor -- reqwest|legacy|conn HOST:PORT ROWS CONCURRENCY

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::{BodyExt, Full};

/// The body of row `i`: the shape the tool sends.
fn body(i: usize) -> String {
    format!(
        r#"{{"auth_uuid":"01930000-0000-7000-8000-{i:012x}","api_key":"bench","state":"OK","reasons":"lote 42"}}"#
    )
}

fn request(authority: &str, i: usize) -> hyper::Request<Full<Bytes>> {
    hyper::Request::builder()
        .method("PATCH")
        .uri(format!("http://{authority}/customer/status"))
        .header("host", authority)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body(i))))
        .expect("a request")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        eprintln!("usage: http_floor reqwest|legacy|conn HOST:PORT ROWS CONCURRENCY");
        std::process::exit(2);
    }
    let (mode, authority) = (args[1].clone(), args[2].clone());
    let rows: usize = args[3].parse().expect("a number of rows");
    let concurrency: usize = args[4].parse().expect("a concurrency");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let started = Instant::now();
    let ok = runtime.block_on(async {
        match mode.as_str() {
            "reqwest" => {
                let client = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .pool_max_idle_per_host(concurrency)
                    .tcp_nodelay(true)
                    .no_proxy()
                    .build()
                    .expect("a client");
                let url: reqwest::Url = format!("http://{authority}/customer/status")
                    .parse()
                    .expect("a URL");
                futures::stream::iter(0..rows)
                    .map(|i| {
                        let request = client
                            .patch(url.clone())
                            .header("content-type", "application/json")
                            .body(body(i));
                        async move {
                            let response = request.send().await.ok()?;
                            let ok = response.status().is_success();
                            response.bytes().await.ok()?;
                            Some(ok)
                        }
                    })
                    .buffer_unordered(concurrency)
                    .filter(|r| futures::future::ready(*r == Some(true)))
                    .count()
                    .await
            }
            "legacy" => {
                let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
                connector.set_nodelay(true);
                let client = hyper_util::client::legacy::Client::builder(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .pool_max_idle_per_host(concurrency)
                .build::<_, Full<Bytes>>(connector);
                futures::stream::iter(0..rows)
                    .map(|i| {
                        let client = client.clone();
                        let authority = authority.clone();
                        async move {
                            let response = client.request(request(&authority, i)).await.ok()?;
                            let ok = response.status().is_success();
                            response.into_body().collect().await.ok()?;
                            Some(ok)
                        }
                    })
                    .buffer_unordered(concurrency)
                    .filter(|r| futures::future::ready(*r == Some(true)))
                    .count()
                    .await
            }
            _ => {
                let next = Arc::new(AtomicUsize::new(0));
                let ok = Arc::new(AtomicUsize::new(0));
                let mut tasks = Vec::new();
                for _ in 0..concurrency {
                    let (next, ok, authority) = (next.clone(), ok.clone(), authority.clone());
                    tasks.push(tokio::spawn(async move {
                        let stream = tokio::net::TcpStream::connect(&authority).await.unwrap();
                        stream.set_nodelay(true).unwrap();
                        let (mut sender, conn) = hyper::client::conn::http1::handshake(
                            hyper_util::rt::TokioIo::new(stream),
                        )
                        .await
                        .unwrap();
                        tokio::spawn(conn);
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            if i >= rows {
                                return;
                            }
                            sender.ready().await.unwrap();
                            let response =
                                sender.send_request(request(&authority, i)).await.unwrap();
                            if response.status().is_success() {
                                response.into_body().collect().await.unwrap();
                                ok.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }));
                }
                for task in tasks {
                    task.await.unwrap();
                }
                ok.load(Ordering::Relaxed)
            }
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{ok} of {rows} ok in {elapsed:.2} s: {:.0} rows/s",
        rows as f64 / elapsed
    );
}
