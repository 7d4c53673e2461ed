fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = [
        "../../proto/tfplugin6.proto",
        "../../proto/grpc_controller.proto",
        "../../proto/grpc_stdio.proto",
    ];
    for p in protos {
        println!("cargo:rerun-if-changed={p}");
    }
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_protos(&protos, &["../../proto"])?;
    Ok(())
}
