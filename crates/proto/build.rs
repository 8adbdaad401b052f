//! Compiles every `.proto` under the workspace's `proto/` directory with protox (pure Rust, no
//! system `protoc`) and generates prost messages and tonic clients and servers into `OUT_DIR`.

use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let mut files = Vec::new();
    collect_protos(&proto_root, &mut files)?;
    files.sort();
    println!("cargo:rerun-if-changed={}", proto_root.display());
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }

    let descriptors = protox::compile(&files, [&proto_root])?;
    // Every RPC's path, so metrics can tell the services' methods from paths a caller made up.
    let mut paths = Vec::new();
    for file in &descriptors.file {
        for service in &file.service {
            for method in &service.method {
                paths.push(format!(
                    "/{}.{}/{}",
                    file.package(),
                    service.name(),
                    method.name()
                ));
            }
        }
    }
    paths.sort();
    let listing: String = paths
        .iter()
        .map(|path| format!("    {path:?},\n"))
        .collect();
    std::fs::write(
        PathBuf::from(std::env::var("OUT_DIR")?).join("rpc_paths.rs"),
        format!(
            "/// The path of every RPC the services declare, sorted.\npub const RPC_PATHS: &[&str] = &[\n{listing}];\n"
        ),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .bytes(".")
        .include_file("opendata.rs")
        .compile_fds(descriptors)?;
    Ok(())
}

fn collect_protos(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, files)?;
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            files.push(path);
        }
    }
    Ok(())
}
