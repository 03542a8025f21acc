# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_gild_global_optspecs
    string join \n C= json limit= h/help V/version
end

function __fish_gild_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_gild_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_gild_using_subcommand
    set -l cmd (__fish_gild_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c gild -n "__fish_gild_needs_command" -s C -d 'Run as if started in DIR (the workspace holding `recipes/`)' -r -F
complete -c gild -n "__fish_gild_needs_command" -l limit -d 'Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)' -r
complete -c gild -n "__fish_gild_needs_command" -l json -d 'Print one JSON document on stdout'
complete -c gild -n "__fish_gild_needs_command" -s h -l help -d 'Print help'
complete -c gild -n "__fish_gild_needs_command" -s V -l version -d 'Print version'
complete -c gild -n "__fish_gild_needs_command" -f -a "build" -d 'Verify, layer, write the images, run the checks and record the baseline'
complete -c gild -n "__fish_gild_needs_command" -f -a "verify" -d 'Check every artifact\'s pin and signatures; build nothing. With `--baseline`: check an image file against a recorded baseline'
complete -c gild -n "__fish_gild_needs_command" -f -a "diff" -d 'Compare two tree sources (baselines, tarballs, directories, mtree specs)'
complete -c gild -n "__fish_gild_needs_command" -f -a "scan" -d 'Write the mtree spec (files.mtree form) of any tree source: a host\'s report'
complete -c gild -n "__fish_gild_needs_command" -f -a "audit" -d 'Is each target compliant with a baseline? Which patches does it lack?'
complete -c gild -n "__fish_gild_needs_command" -f -a "intake" -d 'Verify an approved patch, pin it and append it to the recipe (comments kept)'
complete -c gild -n "__fish_gild_needs_command" -f -a "defer" -d 'Record a decision not to apply a patch; a listed patch moves out of the build'
complete -c gild -n "__fish_gild_needs_command" -f -a "plan" -d 'Approved patches not yet in a recorded baseline, by priority, with due dates (exit 1 when overdue)'
complete -c gild -n "__fish_gild_needs_command" -f -a "promote" -d 'Move a channel to a recorded version, honouring the channel order and the soak'
complete -c gild -n "__fish_gild_needs_command" -f -a "rollback" -d 'Point a channel back at the version it had before'
complete -c gild -n "__fish_gild_needs_command" -f -a "revoke" -d 'Mark a recorded version unfit: never promoted again; channels holding it are reported'
complete -c gild -n "__fish_gild_needs_command" -f -a "log" -d 'The journal: every intake, deferral, build, promotion, rollback and revocation'
complete -c gild -n "__fish_gild_needs_command" -f -a "show" -d 'What a baseline holds: parent, patches and CVEs, packages changed, images, channels, revocation, signature'
complete -c gild -n "__fish_gild_needs_command" -f -a "list" -d 'Every image of the workspace: versions, revoked ones, channels; one line each'
complete -c gild -n "__fish_gild_needs_command" -f -a "prune" -d 'Remove images in out/ that no channel runs and that are not among the newest N versions not revoked; baselines are never removed'
complete -c gild -n "__fish_gild_needs_command" -f -a "init" -d 'Start a workspace: a commented recipe, recipes/keys/, and with --key a new minisign key pair (the secret half outside the workspace)'
complete -c gild -n "__fish_gild_needs_command" -f -a "completions" -d 'Print shell completions, generated from this command line\'s definition'
complete -c gild -n "__fish_gild_needs_command" -f -a "man" -d 'Write man pages (gild.1 and one per command) into DIR'
complete -c gild -n "__fish_gild_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gild -n "__fish_gild_using_subcommand build" -l out -d 'Where the images go (default: out/ in the workspace)' -r -F
complete -c gild -n "__fish_gild_using_subcommand build" -l version -d 'Build this version instead of `[image] version`' -r
complete -c gild -n "__fish_gild_using_subcommand build" -s C -d 'Run as if started in DIR (the workspace holding `recipes/`)' -r -F
complete -c gild -n "__fish_gild_using_subcommand build" -l limit -d 'Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)' -r
complete -c gild -n "__fish_gild_using_subcommand build" -l no-cache -d 'Neither read nor write the cache of frames, base indexes and decoded patches (GILD_CACHE, else ~/.cache/gild, bounded by GILD_CACHE_MAX; GILD_JOBS threads compress). The image comes out the same either way'
complete -c gild -n "__fish_gild_using_subcommand build" -l json -d 'Print one JSON document on stdout'
complete -c gild -n "__fish_gild_using_subcommand build" -s h -l help -d 'Print help'
complete -c gild -n "__fish_gild_using_subcommand verify" -l baseline -d 'The baseline the image must match: NAME, NAME@VERSION or a baseline directory' -r
complete -c gild -n "__fish_gild_using_subcommand verify" -s C -d 'Run as if started in DIR (the workspace holding `recipes/`)' -r -F
complete -c gild -n "__fish_gild_using_subcommand verify" -l limit -d 'Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)' -r
complete -c gild -n "__fish_gild_using_subcommand verify" -l json -d 'Print one JSON document on stdout'
complete -c gild -n "__fish_gild_using_subcommand verify" -s h -l help -d 'Print help'
complete -c gild -n "__fish_gild_using_subcommand diff" -s C -d 'Run as if started in DIR (the workspace holding `recipes/`)' -r -F
complete -c gild -n "__fish_gild_using_subcommand diff" -l limit -d 'Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)' -r
complete -c gild -n "__fish_gild_using_subcommand diff" -l stat -d 'Counts only (by patch), no list of paths'
complete -c gild -n "__fish_gild_using_subcommand diff" -l json -d 'Print one JSON document on stdout'
complete -c gild -n "__fish_gild_using_subcommand diff" -s h -l help -d 'Print help'
complete -c gild -n "__fish_gild_using_subcommand scan" -s o -l output -d 'Write the spec to FILE (beside it, then renamed) instead of stdout' -r -F
complete -c gild -n "__fish_gild_using_subcommand scan" -s C -d 'Run as if started in DIR (the workspace holding `recipes/`)' -r -F
complete -c gild -n "__fish_gild_using_subcommand scan" -l limit -d 'Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)' -r
complete -c gild -n "__fish_gild_using_subcommand scan" -l cross-mounts -d 'Descend into filesystems mounted below a directory (a separate /usr or /var)'
complete -c gild -n "__fish_gild_using_subcommand scan" -l include-virtual -d 'When scanning /, descend into proc, sys, dev and run too'
complete -c gild -n "__fish_gild_using_subcommand scan" -l json -d 'Print one JSON document on stdout'
complete -c gild -n "__fish_gild_using_subcommand scan" -s h -l help -d 'Print help'
complete -c gild -n "__fish_gild_using_subcommand audit" -l patch -d 'Which targets need this patch? (exit 1 when any does)' -r
complete -c gild -n "__fish_gild_using_subcommand audit" -l fixes -d 'Which targets need a fix for this CVE? (exit 1 when any does)' -r
complete -c gild -n "__fish_gild_using_subcommand audit" -l ignore -d 'Pass over paths matching GLOB (relative, e.g. `var/log/**`), besides `[audit] ignore`' -r
complete -c gild -n "__fish_gild_using_subcommand audit" -s C -d 'Run as if started in DIR (the workspace holding `recipes/`)' -r -F
complete -c gild -n "__fish_gild_using_subcommand audit" -l limit -d 'Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)' -r
complete -c gild -n "__fish_gild_using_subcommand audit" -l strict -d 'Extra paths on a target count against compliance'
complete -c gild -n "__fish_gild_using_subcommand audit" -l cross-mounts -d 'Descend into filesystems mounted below a directory (a separate /usr or /var)'
complete -c gild -n "__fish_gild_using_subcommand audit" -l include-virtual -d 'When scanning /, descend into proc, sys, dev and run too'
complete -c gild -n "__fish_gild_using_subcommand audit" -l json -d 'Print one JSON document on stdout'
complete -c gild -n "__fish_gild_using_subcommand audit" -s h -l help -d 'Print help'
complete -c gild -n "__fish_gild_using_subcommand intake" -l id -d 'The patch id, unique in the recipe. Default for a `.deb`: PACKAGE_VERSION_ARCH' -r
complete -c gild -n "__fish_gild_using_subcommand intake" -l severity -r -f -a "critical\t''
high\t''
medium\t''
low\t''"
complete -c gild -n "__fish_gild_using_subcommand intake" -l change -d 'The change record that approved it' -r
complete -c gild -n "__fish_gild_using_subcommand intake" -l approved-by -d 'Who approved it' -r
complete -c gild -n "__fish_gild_using_subcommand intake" -l fixes -d 'What it fixes (repeatable; e.g. a CVE id). Default for a `.deb`: the CVEs its changelog names since the version the newest baseline has' -r
complete -c gild -n "__fish_gild_using_subcommand intake" -l signed-by -d 'A key of `[keys]` that must have signed it (repeatable; the threshold is their number). Default: the signers of the recipe\'s last patch, else of its base' -r
complete -c gild -n "__fish_gild_using_subcommand intake" -l signature -d 'A signature file (repeatable; default ARTIFACT.minisig)' -r -F
complete -c gild -n "__fish_gild_using_subcommand intake" -l released -d 'The vendor\'s release date (YYYY-MM-DD)' -r
complete -c gild -n "__fish_gild_using_subcommand intake" -l backout -d 'How to back it out' -r
complete -c gild -n "__fish_gild_using_subcommand intake" -l date -d 'The approval date (YYYY-MM-DD; default today)' -r
complete -c gild -n "__fish_gild_using_subcommand intake" -s C -d 'Run as if started in DIR (the workspace holding `recipes/`)' -r -F
complete -c gild -n "__fish_gild_using_subcommand intake" -l limit -d 'Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)' -r
complete -c gild -n "__fish_gild_using_subcommand intake" -l exploited -d 'A known exploit is in the wild'
complete -c gild -n "__fish_gild_using_subcommand intake" -l json -d 'Print one JSON document on stdout'
complete -c gild -n "__fish_gild_using_subcommand intake" -s h -l help -d 'Print help'
complete -c gild -n "__fish_gild_using_subcommand defer" -l reason -d 'Why it is not applied, or dropped (required unless --undo)' -r
complete -c gild -n "__fish_gild_using_subcommand defer" -l mitigation -d 'What limits the risk meanwhile' -r
complete -c gild -n "__fish_gild_using_subcommand defer" -l review-by -d 'When to decide again (YYYY-MM-DD); `plan` reports it once past' -r
complete -c gild -n "__fish_gild_using_subcommand defer" -s C -d 'Run as if started in DIR (the workspace holding `recipes/`)' -r -F
complete -c gild -n "__fish_gild_using_subcommand defer" -l limit -d 'Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)' -r
complete -c gild -n "__fish_gild_using_subcommand defer" -l undo -d 'Move a deferred patch back to the end of the patch list'
complete -c gild -n "__fish_gild_using_subcommand defer" -l drop -d 'Remove the patch (listed or deferred) from the recipe: the way back from an intake, leaving its id and artifact free to take again (the journal keeps both)'
complete -c gild -n "__fish_gild_using_subcommand defer" -l json -d 'Print one JSON document on stdout'
complete -c gild -n "__fish_gild_using_subcommand defer" -s h -l help -d 'Print help'
complete -c gild -n "__fish_gild_using_subcommand plan" -l today -d 'Plan as of this date (YYYY-MM-DD; default today)' -r
complete -c gild -n "__fish_gild_using_subcommand plan" -s C -d 'Run as if started in DIR (the workspace holding `recipes/`)' -r -F
complete -c gild -n "__fish_gild_using_subcommand plan" -l limit -d 'Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)' -r
complete -c gild -n "__fish_gild_using_subcommand plan" -l json -d 'Print one JSON document on stdout'
complete -c gild -n "__fish_gild_using_subcommand plan" -s h -l help -d 'Print help'
complete -c gild -n "__fish_gild_using_subcommand promote" -l change -d 'The change record allowing an emergency promotion' -r
complete -c gild -n "__fish_gild_using_subcommand promote" -s C -d 'Run as if started in DIR (the workspace holding `recipes/`)' -r -F
complete -c gild -n "__fish_gild_using_subcommand promote" -l limit -d 'Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)' -r
complete -c gild -n "__fish_gild_using_subcommand promote" -l emergency -d 'Skip the soak (recorded as an emergency)'
complete -c gild -n "__fish_gild_using_subcommand promote" -l json -d 'Print one JSON document on stdout'
complete -c gild -n "__fish_gild_using_subcommand promote" -s h -l help -d 'Print help'
complete -c gild -n "__fish_gild_using_subcommand rollback" -s C -d 'Run as if started in DIR (the workspace holding `recipes/`)' -r -F
complete -c gild -n "__fish_gild_using_subcommand rollback" -l limit -d 'Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)' -r
complete -c gild -n "__fish_gild_using_subcommand rollback" -l json -d 'Print one JSON document on stdout'
complete -c gild -n "__fish_gild_using_subcommand rollback" -s h -l help -d 'Print help'
complete -c gild -n "__fish_gild_using_subcommand revoke" -l reason -d 'Why it is unfit' -r
complete -c gild -n "__fish_gild_using_subcommand revoke" -s C -d 'Run as if started in DIR (the workspace holding `recipes/`)' -r -F
complete -c gild -n "__fish_gild_using_subcommand revoke" -l limit -d 'Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)' -r
complete -c gild -n "__fish_gild_using_subcommand revoke" -l json -d 'Print one JSON document on stdout'
complete -c gild -n "__fish_gild_using_subcommand revoke" -s h -l help -d 'Print help'
complete -c gild -n "__fish_gild_using_subcommand log" -s C -d 'Run as if started in DIR (the workspace holding `recipes/`)' -r -F
complete -c gild -n "__fish_gild_using_subcommand log" -l limit -d 'Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)' -r
complete -c gild -n "__fish_gild_using_subcommand log" -l verify -d 'Check the hash chain and the heads recorded in baselines and channels.toml (exit 3 when tampered)'
complete -c gild -n "__fish_gild_using_subcommand log" -l json -d 'Print one JSON document on stdout'
complete -c gild -n "__fish_gild_using_subcommand log" -s h -l help -d 'Print help'
complete -c gild -n "__fish_gild_using_subcommand show" -s C -d 'Run as if started in DIR (the workspace holding `recipes/`)' -r -F
complete -c gild -n "__fish_gild_using_subcommand show" -l limit -d 'Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)' -r
complete -c gild -n "__fish_gild_using_subcommand show" -l json -d 'Print one JSON document on stdout'
complete -c gild -n "__fish_gild_using_subcommand show" -s h -l help -d 'Print help'
complete -c gild -n "__fish_gild_using_subcommand list" -s C -d 'Run as if started in DIR (the workspace holding `recipes/`)' -r -F
complete -c gild -n "__fish_gild_using_subcommand list" -l limit -d 'Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)' -r
complete -c gild -n "__fish_gild_using_subcommand list" -l json -d 'Print one JSON document on stdout'
complete -c gild -n "__fish_gild_using_subcommand list" -s h -l help -d 'Print help'
complete -c gild -n "__fish_gild_using_subcommand prune" -l keep -d 'How many of the newest versions not revoked keep their images' -r
complete -c gild -n "__fish_gild_using_subcommand prune" -l out -d 'Where the images are (default: out/ in the workspace)' -r -F
complete -c gild -n "__fish_gild_using_subcommand prune" -s C -d 'Run as if started in DIR (the workspace holding `recipes/`)' -r -F
complete -c gild -n "__fish_gild_using_subcommand prune" -l limit -d 'Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)' -r
complete -c gild -n "__fish_gild_using_subcommand prune" -l json -d 'Print one JSON document on stdout'
complete -c gild -n "__fish_gild_using_subcommand prune" -s h -l help -d 'Print help'
complete -c gild -n "__fish_gild_using_subcommand init" -l name -d 'The image name (default: the directory\'s name)' -r
complete -c gild -n "__fish_gild_using_subcommand init" -l key -d 'Make a minisign key pair of this name: recipes/keys/NAME.pub, and the secret half in $XDG_CONFIG_HOME/gild/keys/ (else ~/.config/gild/keys/)' -r
complete -c gild -n "__fish_gild_using_subcommand init" -s C -d 'Run as if started in DIR (the workspace holding `recipes/`)' -r -F
complete -c gild -n "__fish_gild_using_subcommand init" -l limit -d 'Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)' -r
complete -c gild -n "__fish_gild_using_subcommand init" -l json -d 'Print one JSON document on stdout'
complete -c gild -n "__fish_gild_using_subcommand init" -s h -l help -d 'Print help'
complete -c gild -n "__fish_gild_using_subcommand completions" -s C -d 'Run as if started in DIR (the workspace holding `recipes/`)' -r -F
complete -c gild -n "__fish_gild_using_subcommand completions" -l limit -d 'Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)' -r
complete -c gild -n "__fish_gild_using_subcommand completions" -l json -d 'Print one JSON document on stdout'
complete -c gild -n "__fish_gild_using_subcommand completions" -s h -l help -d 'Print help'
complete -c gild -n "__fish_gild_using_subcommand man" -s C -d 'Run as if started in DIR (the workspace holding `recipes/`)' -r -F
complete -c gild -n "__fish_gild_using_subcommand man" -l limit -d 'Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)' -r
complete -c gild -n "__fish_gild_using_subcommand man" -l json -d 'Print one JSON document on stdout'
complete -c gild -n "__fish_gild_using_subcommand man" -s h -l help -d 'Print help'
complete -c gild -n "__fish_gild_using_subcommand help; and not __fish_seen_subcommand_from build verify diff scan audit intake defer plan promote rollback revoke log show list prune init completions man help" -f -a "build" -d 'Verify, layer, write the images, run the checks and record the baseline'
complete -c gild -n "__fish_gild_using_subcommand help; and not __fish_seen_subcommand_from build verify diff scan audit intake defer plan promote rollback revoke log show list prune init completions man help" -f -a "verify" -d 'Check every artifact\'s pin and signatures; build nothing. With `--baseline`: check an image file against a recorded baseline'
complete -c gild -n "__fish_gild_using_subcommand help; and not __fish_seen_subcommand_from build verify diff scan audit intake defer plan promote rollback revoke log show list prune init completions man help" -f -a "diff" -d 'Compare two tree sources (baselines, tarballs, directories, mtree specs)'
complete -c gild -n "__fish_gild_using_subcommand help; and not __fish_seen_subcommand_from build verify diff scan audit intake defer plan promote rollback revoke log show list prune init completions man help" -f -a "scan" -d 'Write the mtree spec (files.mtree form) of any tree source: a host\'s report'
complete -c gild -n "__fish_gild_using_subcommand help; and not __fish_seen_subcommand_from build verify diff scan audit intake defer plan promote rollback revoke log show list prune init completions man help" -f -a "audit" -d 'Is each target compliant with a baseline? Which patches does it lack?'
complete -c gild -n "__fish_gild_using_subcommand help; and not __fish_seen_subcommand_from build verify diff scan audit intake defer plan promote rollback revoke log show list prune init completions man help" -f -a "intake" -d 'Verify an approved patch, pin it and append it to the recipe (comments kept)'
complete -c gild -n "__fish_gild_using_subcommand help; and not __fish_seen_subcommand_from build verify diff scan audit intake defer plan promote rollback revoke log show list prune init completions man help" -f -a "defer" -d 'Record a decision not to apply a patch; a listed patch moves out of the build'
complete -c gild -n "__fish_gild_using_subcommand help; and not __fish_seen_subcommand_from build verify diff scan audit intake defer plan promote rollback revoke log show list prune init completions man help" -f -a "plan" -d 'Approved patches not yet in a recorded baseline, by priority, with due dates (exit 1 when overdue)'
complete -c gild -n "__fish_gild_using_subcommand help; and not __fish_seen_subcommand_from build verify diff scan audit intake defer plan promote rollback revoke log show list prune init completions man help" -f -a "promote" -d 'Move a channel to a recorded version, honouring the channel order and the soak'
complete -c gild -n "__fish_gild_using_subcommand help; and not __fish_seen_subcommand_from build verify diff scan audit intake defer plan promote rollback revoke log show list prune init completions man help" -f -a "rollback" -d 'Point a channel back at the version it had before'
complete -c gild -n "__fish_gild_using_subcommand help; and not __fish_seen_subcommand_from build verify diff scan audit intake defer plan promote rollback revoke log show list prune init completions man help" -f -a "revoke" -d 'Mark a recorded version unfit: never promoted again; channels holding it are reported'
complete -c gild -n "__fish_gild_using_subcommand help; and not __fish_seen_subcommand_from build verify diff scan audit intake defer plan promote rollback revoke log show list prune init completions man help" -f -a "log" -d 'The journal: every intake, deferral, build, promotion, rollback and revocation'
complete -c gild -n "__fish_gild_using_subcommand help; and not __fish_seen_subcommand_from build verify diff scan audit intake defer plan promote rollback revoke log show list prune init completions man help" -f -a "show" -d 'What a baseline holds: parent, patches and CVEs, packages changed, images, channels, revocation, signature'
complete -c gild -n "__fish_gild_using_subcommand help; and not __fish_seen_subcommand_from build verify diff scan audit intake defer plan promote rollback revoke log show list prune init completions man help" -f -a "list" -d 'Every image of the workspace: versions, revoked ones, channels; one line each'
complete -c gild -n "__fish_gild_using_subcommand help; and not __fish_seen_subcommand_from build verify diff scan audit intake defer plan promote rollback revoke log show list prune init completions man help" -f -a "prune" -d 'Remove images in out/ that no channel runs and that are not among the newest N versions not revoked; baselines are never removed'
complete -c gild -n "__fish_gild_using_subcommand help; and not __fish_seen_subcommand_from build verify diff scan audit intake defer plan promote rollback revoke log show list prune init completions man help" -f -a "init" -d 'Start a workspace: a commented recipe, recipes/keys/, and with --key a new minisign key pair (the secret half outside the workspace)'
complete -c gild -n "__fish_gild_using_subcommand help; and not __fish_seen_subcommand_from build verify diff scan audit intake defer plan promote rollback revoke log show list prune init completions man help" -f -a "completions" -d 'Print shell completions, generated from this command line\'s definition'
complete -c gild -n "__fish_gild_using_subcommand help; and not __fish_seen_subcommand_from build verify diff scan audit intake defer plan promote rollback revoke log show list prune init completions man help" -f -a "man" -d 'Write man pages (gild.1 and one per command) into DIR'
complete -c gild -n "__fish_gild_using_subcommand help; and not __fish_seen_subcommand_from build verify diff scan audit intake defer plan promote rollback revoke log show list prune init completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
