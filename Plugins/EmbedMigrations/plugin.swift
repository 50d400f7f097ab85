import Foundation
import PackagePlugin

/// Compiles every `sql/migrations/*.sql` file into the `InvoiceStore` module, so the binary
/// carries its schema and needs no files beside it at run time. The embedder lists the folder when it
/// runs: SwiftPM runs this plugin again only when the package or this target's sources change, so the
/// list below may be older. The folder as an input re-runs the command when a file is added or removed,
/// the listed files when one of them changes; a file added since the plugin last ran and then edited is
/// not seen until it runs again (`swift_build_current` in `scripts/lib/env.sh` checks the fingerprint
/// and makes it run).
@main
struct EmbedMigrations: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let folder = context.package.directoryURL.appending(path: "sql").appending(path: "migrations")
        let files = try FileManager.default
            .contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "sql" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedMigrations.swift")
        return [
            .buildCommand(
                displayName: "Embedding sql/migrations",
                executable: try context.tool(named: "MigrationEmbedder").url,
                // The embedder lists the folder itself: `files` is as of the package's last evaluation.
                arguments: [output.path, folder.path],
                inputFiles: files + [folder],
                outputFiles: [output]
            )
        ]
    }
}
