import PackagePlugin

/// Builds libuswap-agent.so, the C library `uswap run` preloads into a program, as a resource of
/// the `uswap` executable, so that building `uswap` alone (`swift build -c release --product
/// uswap`, `swift run uswap`) also builds its agent: the library lands in the executable's
/// resource bundle (`USwap_USwapCLI.resources/` next to `uswap`), where `AgentFiles` finds it.
///
/// The agent is compiled by the toolchain's clang, not as a SwiftPM library target: a dynamic
/// library product is only built when asked for by name, and an executable that depended on it
/// would load the agent (and its mmap and fork wrappers) into `uswap` itself.
@main struct BuildAgent: BuildToolPlugin {
    /// The agent's sources, relative to the package root.
    static let sourceDirectory = "Sources/USwapAgent"
    /// The protocol header the agent shares with the pager.
    static let protocolDirectory = "Sources/CProcessPager/include"

    func createBuildCommands(context: PluginContext, target: any Target) async throws -> [Command] {
        let root = context.package.directoryURL
        let source = root.appending(path: Self.sourceDirectory + "/agent.c")
        let headers = [
            root.appending(path: Self.sourceDirectory + "/include/USwapAgent.h"),
            root.appending(path: Self.protocolDirectory + "/uswap_protocol.h"),
            root.appending(path: Self.protocolDirectory + "/uswap_socket.h"),
        ]
        let output = context.pluginWorkDirectoryURL.appending(path: "libuswap-agent.so")
        let arguments = [
            "-shared", "-fPIC", "-O2", "-g", "-std=gnu11", "-Wall", "-Wextra", "-Werror",
            // Bound at load (-z now): no lazy binding runs inside the mmap wrapper. The C library is
            // its only dependency (no Swift runtime in the program), every symbol resolved.
            "-Wl,-z,now", "-Wl,--no-undefined",
            "-I", root.appending(path: Self.sourceDirectory + "/include").path(percentEncoded: false),
            "-I", root.appending(path: Self.protocolDirectory).path(percentEncoded: false),
            "-o", output.path(percentEncoded: false), source.path(percentEncoded: false),
        ]
        return [
            .buildCommand(
                displayName: "Building libuswap-agent.so", executable: try context.tool(named: "clang").url,
                arguments: arguments, inputFiles: [source] + headers, outputFiles: [output])
        ]
    }
}
