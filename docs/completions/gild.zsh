#compdef gild

autoload -U is-at-least

_gild() {
    typeset -A opt_args
    typeset -a _arguments_options
    local ret=1

    if is-at-least 5.2; then
        _arguments_options=(-s -S -C)
    else
        _arguments_options=(-s -C)
    fi

    local context curcontext="$curcontext" state line
    _arguments "${_arguments_options[@]}" : \
'-C+[Run as if started in DIR (the workspace holding \`recipes/\`)]:DIR:_files' \
'*--limit=[Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)]:KEY=VALUE:_default' \
'--json[Print one JSON document on stdout]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
":: :_gild_commands" \
"*::: :->gild" \
&& ret=0
    case $state in
    (gild)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:gild-command-$line[1]:"
        case $line[1] in
            (build)
_arguments "${_arguments_options[@]}" : \
'--out=[Where the images go (default\: out/ in the workspace)]:DIR:_files' \
'--version=[Build this version instead of \`\[image\] version\`]:V:_default' \
'-C+[Run as if started in DIR (the workspace holding \`recipes/\`)]:DIR:_files' \
'*--limit=[Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)]:KEY=VALUE:_default' \
'--no-cache[Neither read nor write the cache of frames, base indexes and decoded patches (GILD_CACHE, else ~/.cache/gild, bounded by GILD_CACHE_MAX; GILD_JOBS threads compress). The image comes out the same either way]' \
'--json[Print one JSON document on stdout]' \
'-h[Print help]' \
'--help[Print help]' \
':recipe -- The recipe file (or NAME for recipes/NAME.toml):_default' \
&& ret=0
;;
(verify)
_arguments "${_arguments_options[@]}" : \
'--baseline=[The baseline the image must match\: NAME, NAME@VERSION or a baseline directory]:REF:_default' \
'-C+[Run as if started in DIR (the workspace holding \`recipes/\`)]:DIR:_files' \
'*--limit=[Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)]:KEY=VALUE:_default' \
'--json[Print one JSON document on stdout]' \
'-h[Print help]' \
'--help[Print help]' \
':recipe -- The recipe file (or NAME for recipes/NAME.toml); NAME@VERSION or a baseline directory to check a recorded baseline (its signature and every pinned file); with `--baseline`, the image file:_default' \
&& ret=0
;;
(diff)
_arguments "${_arguments_options[@]}" : \
'-C+[Run as if started in DIR (the workspace holding \`recipes/\`)]:DIR:_files' \
'*--limit=[Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)]:KEY=VALUE:_default' \
'--stat[Counts only (by patch), no list of paths]' \
'--json[Print one JSON document on stdout]' \
'-h[Print help]' \
'--help[Print help]' \
':a -- The tree before\: NAME, NAME@VERSION, a baseline directory, a tarball, a directory or a spec:_default' \
':b -- The tree after:_default' \
&& ret=0
;;
(scan)
_arguments "${_arguments_options[@]}" : \
'-o+[Write the spec to FILE (beside it, then renamed) instead of stdout]:FILE:_files' \
'--output=[Write the spec to FILE (beside it, then renamed) instead of stdout]:FILE:_files' \
'-C+[Run as if started in DIR (the workspace holding \`recipes/\`)]:DIR:_files' \
'*--limit=[Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)]:KEY=VALUE:_default' \
'--cross-mounts[Descend into filesystems mounted below a directory (a separate /usr or /var)]' \
'--include-virtual[When scanning /, descend into proc, sys, dev and run too]' \
'--json[Print one JSON document on stdout]' \
'-h[Print help]' \
'--help[Print help]' \
':source -- NAME, NAME@VERSION, a baseline directory, a tarball, a directory or a spec:_default' \
&& ret=0
;;
(audit)
_arguments "${_arguments_options[@]}" : \
'(--fixes)--patch=[Which targets need this patch? (exit 1 when any does)]:ID:_default' \
'--fixes=[Which targets need a fix for this CVE? (exit 1 when any does)]:CVE:_default' \
'*--ignore=[Pass over paths matching GLOB (relative, e.g. \`var/log/**\`), besides \`\[audit\] ignore\`]:GLOB:_default' \
'-C+[Run as if started in DIR (the workspace holding \`recipes/\`)]:DIR:_files' \
'*--limit=[Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)]:KEY=VALUE:_default' \
'--strict[Extra paths on a target count against compliance]' \
'--cross-mounts[Descend into filesystems mounted below a directory (a separate /usr or /var)]' \
'--include-virtual[When scanning /, descend into proc, sys, dev and run too]' \
'--json[Print one JSON document on stdout]' \
'-h[Print help]' \
'--help[Print help]' \
':baseline -- The baseline\: NAME, NAME@VERSION or a baseline directory:_default' \
'*::targets -- Directories, host specs, images or baselines to judge:_default' \
&& ret=0
;;
(intake)
_arguments "${_arguments_options[@]}" : \
'--id=[The patch id, unique in the recipe. Default for a \`.deb\`\: PACKAGE_VERSION_ARCH]:ID:_default' \
'--severity=[]:SEVERITY:(critical high medium low)' \
'--change=[The change record that approved it]:CHG:_default' \
'--approved-by=[Who approved it]:WHO:_default' \
'*--fixes=[What it fixes (repeatable; e.g. a CVE id). Default for a \`.deb\`\: the CVEs its changelog names since the version the newest baseline has]:ID:_default' \
'*--signed-by=[A key of \`\[keys\]\` that must have signed it (repeatable; the threshold is their number). Default\: the signers of the recipe'\''s last patch, else of its base]:KEY:_default' \
'*--signature=[A signature file (repeatable; default ARTIFACT.minisig)]:FILE:_files' \
'--released=[The vendor'\''s release date (YYYY-MM-DD)]:DATE:_default' \
'--backout=[How to back it out]:TEXT:_default' \
'--date=[The approval date (YYYY-MM-DD; default today)]:DATE:_default' \
'-C+[Run as if started in DIR (the workspace holding \`recipes/\`)]:DIR:_files' \
'*--limit=[Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)]:KEY=VALUE:_default' \
'--exploited[A known exploit is in the wild]' \
'--json[Print one JSON document on stdout]' \
'-h[Print help]' \
'--help[Print help]' \
':recipe -- The recipe file (or NAME for recipes/NAME.toml):_default' \
':artifact -- The patch artifact (a signed tarball or Debian package):_files' \
&& ret=0
;;
(defer)
_arguments "${_arguments_options[@]}" : \
'--reason=[Why it is not applied, or dropped (required unless --undo)]:REASON:_default' \
'(--undo)--mitigation=[What limits the risk meanwhile]:MITIGATION:_default' \
'(--undo)--review-by=[When to decide again (YYYY-MM-DD); \`plan\` reports it once past]:DATE:_default' \
'-C+[Run as if started in DIR (the workspace holding \`recipes/\`)]:DIR:_files' \
'*--limit=[Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)]:KEY=VALUE:_default' \
'--undo[Move a deferred patch back to the end of the patch list]' \
'(--undo --mitigation --review-by)--drop[Remove the patch (listed or deferred) from the recipe\: the way back from an intake, leaving its id and artifact free to take again (the journal keeps both)]' \
'--json[Print one JSON document on stdout]' \
'-h[Print help]' \
'--help[Print help]' \
':recipe -- The recipe file (or NAME for recipes/NAME.toml):_default' \
':id -- The patch id:_default' \
&& ret=0
;;
(plan)
_arguments "${_arguments_options[@]}" : \
'--today=[Plan as of this date (YYYY-MM-DD; default today)]:DATE:_default' \
'-C+[Run as if started in DIR (the workspace holding \`recipes/\`)]:DIR:_files' \
'*--limit=[Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)]:KEY=VALUE:_default' \
'--json[Print one JSON document on stdout]' \
'-h[Print help]' \
'--help[Print help]' \
'*::recipes -- Recipe files or NAMEs (default\: every recipe in the workspace):_default' \
&& ret=0
;;
(promote)
_arguments "${_arguments_options[@]}" : \
'--change=[The change record allowing an emergency promotion]:CHG:_default' \
'-C+[Run as if started in DIR (the workspace holding \`recipes/\`)]:DIR:_files' \
'*--limit=[Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)]:KEY=VALUE:_default' \
'--emergency[Skip the soak (recorded as an emergency)]' \
'--json[Print one JSON document on stdout]' \
'-h[Print help]' \
'--help[Print help]' \
':target -- NAME@VERSION:_default' \
':channel -- A channel of the recipe'\''s `\[rollout\]`:_default' \
&& ret=0
;;
(rollback)
_arguments "${_arguments_options[@]}" : \
'-C+[Run as if started in DIR (the workspace holding \`recipes/\`)]:DIR:_files' \
'*--limit=[Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)]:KEY=VALUE:_default' \
'--json[Print one JSON document on stdout]' \
'-h[Print help]' \
'--help[Print help]' \
':name -- The image NAME:_default' \
':channel:_default' \
&& ret=0
;;
(revoke)
_arguments "${_arguments_options[@]}" : \
'--reason=[Why it is unfit]:REASON:_default' \
'-C+[Run as if started in DIR (the workspace holding \`recipes/\`)]:DIR:_files' \
'*--limit=[Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)]:KEY=VALUE:_default' \
'--json[Print one JSON document on stdout]' \
'-h[Print help]' \
'--help[Print help]' \
':target -- NAME@VERSION:_default' \
&& ret=0
;;
(log)
_arguments "${_arguments_options[@]}" : \
'-C+[Run as if started in DIR (the workspace holding \`recipes/\`)]:DIR:_files' \
'*--limit=[Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)]:KEY=VALUE:_default' \
'--verify[Check the hash chain and the heads recorded in baselines and channels.toml (exit 3 when tampered)]' \
'--json[Print one JSON document on stdout]' \
'-h[Print help]' \
'--help[Print help]' \
':name -- The image NAME:_default' \
&& ret=0
;;
(show)
_arguments "${_arguments_options[@]}" : \
'-C+[Run as if started in DIR (the workspace holding \`recipes/\`)]:DIR:_files' \
'*--limit=[Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)]:KEY=VALUE:_default' \
'--json[Print one JSON document on stdout]' \
'-h[Print help]' \
'--help[Print help]' \
':target -- NAME (its newest version not revoked), NAME@VERSION or NAME@CHANNEL:_default' \
&& ret=0
;;
(list)
_arguments "${_arguments_options[@]}" : \
'-C+[Run as if started in DIR (the workspace holding \`recipes/\`)]:DIR:_files' \
'*--limit=[Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)]:KEY=VALUE:_default' \
'--json[Print one JSON document on stdout]' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(prune)
_arguments "${_arguments_options[@]}" : \
'--keep=[How many of the newest versions not revoked keep their images]:N:_default' \
'--out=[Where the images are (default\: out/ in the workspace)]:DIR:_files' \
'-C+[Run as if started in DIR (the workspace holding \`recipes/\`)]:DIR:_files' \
'*--limit=[Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)]:KEY=VALUE:_default' \
'--json[Print one JSON document on stdout]' \
'-h[Print help]' \
'--help[Print help]' \
':name -- The image NAME:_default' \
&& ret=0
;;
(init)
_arguments "${_arguments_options[@]}" : \
'--name=[The image name (default\: the directory'\''s name)]:NAME:_default' \
'--key=[Make a minisign key pair of this name\: recipes/keys/NAME.pub, and the secret half in \$XDG_CONFIG_HOME/gild/keys/ (else ~/.config/gild/keys/)]:NAME:_default' \
'-C+[Run as if started in DIR (the workspace holding \`recipes/\`)]:DIR:_files' \
'*--limit=[Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)]:KEY=VALUE:_default' \
'--json[Print one JSON document on stdout]' \
'-h[Print help]' \
'--help[Print help]' \
'::path -- The workspace directory (default\: the current one):_files' \
&& ret=0
;;
(completions)
_arguments "${_arguments_options[@]}" : \
'-C+[Run as if started in DIR (the workspace holding \`recipes/\`)]:DIR:_files' \
'*--limit=[Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)]:KEY=VALUE:_default' \
'--json[Print one JSON document on stdout]' \
'-h[Print help]' \
'--help[Print help]' \
':shell:(bash elvish fish powershell zsh)' \
&& ret=0
;;
(man)
_arguments "${_arguments_options[@]}" : \
'-C+[Run as if started in DIR (the workspace holding \`recipes/\`)]:DIR:_files' \
'*--limit=[Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)]:KEY=VALUE:_default' \
'--json[Print one JSON document on stdout]' \
'-h[Print help]' \
'--help[Print help]' \
':path -- Where the pages go (created when missing):_files' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_gild__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:gild-help-command-$line[1]:"
        case $line[1] in
            (build)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(verify)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(diff)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(scan)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(audit)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(intake)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(defer)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(plan)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(promote)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(rollback)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(revoke)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(log)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(show)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(list)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(prune)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(init)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(completions)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(man)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
        esac
    ;;
esac
}

(( $+functions[_gild_commands] )) ||
_gild_commands() {
    local commands; commands=(
'build:Verify, layer, write the images, run the checks and record the baseline' \
'verify:Check every artifact'\''s pin and signatures; build nothing. With \`--baseline\`\: check an image file against a recorded baseline' \
'diff:Compare two tree sources (baselines, tarballs, directories, mtree specs)' \
'scan:Write the mtree spec (files.mtree form) of any tree source\: a host'\''s report' \
'audit:Is each target compliant with a baseline? Which patches does it lack?' \
'intake:Verify an approved patch, pin it and append it to the recipe (comments kept)' \
'defer:Record a decision not to apply a patch; a listed patch moves out of the build' \
'plan:Approved patches not yet in a recorded baseline, by priority, with due dates (exit 1 when overdue)' \
'promote:Move a channel to a recorded version, honouring the channel order and the soak' \
'rollback:Point a channel back at the version it had before' \
'revoke:Mark a recorded version unfit\: never promoted again; channels holding it are reported' \
'log:The journal\: every intake, deferral, build, promotion, rollback and revocation' \
'show:What a baseline holds\: parent, patches and CVEs, packages changed, images, channels, revocation, signature' \
'list:Every image of the workspace\: versions, revoked ones, channels; one line each' \
'prune:Remove images in out/ that no channel runs and that are not among the newest N versions not revoked; baselines are never removed' \
'init:Start a workspace\: a commented recipe, recipes/keys/, and with --key a new minisign key pair (the secret half outside the workspace)' \
'completions:Print shell completions, generated from this command line'\''s definition' \
'man:Write man pages (gild.1 and one per command) into DIR' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'gild commands' commands "$@"
}
(( $+functions[_gild__subcmd__audit_commands] )) ||
_gild__subcmd__audit_commands() {
    local commands; commands=()
    _describe -t commands 'gild audit commands' commands "$@"
}
(( $+functions[_gild__subcmd__build_commands] )) ||
_gild__subcmd__build_commands() {
    local commands; commands=()
    _describe -t commands 'gild build commands' commands "$@"
}
(( $+functions[_gild__subcmd__completions_commands] )) ||
_gild__subcmd__completions_commands() {
    local commands; commands=()
    _describe -t commands 'gild completions commands' commands "$@"
}
(( $+functions[_gild__subcmd__defer_commands] )) ||
_gild__subcmd__defer_commands() {
    local commands; commands=()
    _describe -t commands 'gild defer commands' commands "$@"
}
(( $+functions[_gild__subcmd__diff_commands] )) ||
_gild__subcmd__diff_commands() {
    local commands; commands=()
    _describe -t commands 'gild diff commands' commands "$@"
}
(( $+functions[_gild__subcmd__help_commands] )) ||
_gild__subcmd__help_commands() {
    local commands; commands=(
'build:Verify, layer, write the images, run the checks and record the baseline' \
'verify:Check every artifact'\''s pin and signatures; build nothing. With \`--baseline\`\: check an image file against a recorded baseline' \
'diff:Compare two tree sources (baselines, tarballs, directories, mtree specs)' \
'scan:Write the mtree spec (files.mtree form) of any tree source\: a host'\''s report' \
'audit:Is each target compliant with a baseline? Which patches does it lack?' \
'intake:Verify an approved patch, pin it and append it to the recipe (comments kept)' \
'defer:Record a decision not to apply a patch; a listed patch moves out of the build' \
'plan:Approved patches not yet in a recorded baseline, by priority, with due dates (exit 1 when overdue)' \
'promote:Move a channel to a recorded version, honouring the channel order and the soak' \
'rollback:Point a channel back at the version it had before' \
'revoke:Mark a recorded version unfit\: never promoted again; channels holding it are reported' \
'log:The journal\: every intake, deferral, build, promotion, rollback and revocation' \
'show:What a baseline holds\: parent, patches and CVEs, packages changed, images, channels, revocation, signature' \
'list:Every image of the workspace\: versions, revoked ones, channels; one line each' \
'prune:Remove images in out/ that no channel runs and that are not among the newest N versions not revoked; baselines are never removed' \
'init:Start a workspace\: a commented recipe, recipes/keys/, and with --key a new minisign key pair (the secret half outside the workspace)' \
'completions:Print shell completions, generated from this command line'\''s definition' \
'man:Write man pages (gild.1 and one per command) into DIR' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'gild help commands' commands "$@"
}
(( $+functions[_gild__subcmd__help__subcmd__audit_commands] )) ||
_gild__subcmd__help__subcmd__audit_commands() {
    local commands; commands=()
    _describe -t commands 'gild help audit commands' commands "$@"
}
(( $+functions[_gild__subcmd__help__subcmd__build_commands] )) ||
_gild__subcmd__help__subcmd__build_commands() {
    local commands; commands=()
    _describe -t commands 'gild help build commands' commands "$@"
}
(( $+functions[_gild__subcmd__help__subcmd__completions_commands] )) ||
_gild__subcmd__help__subcmd__completions_commands() {
    local commands; commands=()
    _describe -t commands 'gild help completions commands' commands "$@"
}
(( $+functions[_gild__subcmd__help__subcmd__defer_commands] )) ||
_gild__subcmd__help__subcmd__defer_commands() {
    local commands; commands=()
    _describe -t commands 'gild help defer commands' commands "$@"
}
(( $+functions[_gild__subcmd__help__subcmd__diff_commands] )) ||
_gild__subcmd__help__subcmd__diff_commands() {
    local commands; commands=()
    _describe -t commands 'gild help diff commands' commands "$@"
}
(( $+functions[_gild__subcmd__help__subcmd__help_commands] )) ||
_gild__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'gild help help commands' commands "$@"
}
(( $+functions[_gild__subcmd__help__subcmd__init_commands] )) ||
_gild__subcmd__help__subcmd__init_commands() {
    local commands; commands=()
    _describe -t commands 'gild help init commands' commands "$@"
}
(( $+functions[_gild__subcmd__help__subcmd__intake_commands] )) ||
_gild__subcmd__help__subcmd__intake_commands() {
    local commands; commands=()
    _describe -t commands 'gild help intake commands' commands "$@"
}
(( $+functions[_gild__subcmd__help__subcmd__list_commands] )) ||
_gild__subcmd__help__subcmd__list_commands() {
    local commands; commands=()
    _describe -t commands 'gild help list commands' commands "$@"
}
(( $+functions[_gild__subcmd__help__subcmd__log_commands] )) ||
_gild__subcmd__help__subcmd__log_commands() {
    local commands; commands=()
    _describe -t commands 'gild help log commands' commands "$@"
}
(( $+functions[_gild__subcmd__help__subcmd__man_commands] )) ||
_gild__subcmd__help__subcmd__man_commands() {
    local commands; commands=()
    _describe -t commands 'gild help man commands' commands "$@"
}
(( $+functions[_gild__subcmd__help__subcmd__plan_commands] )) ||
_gild__subcmd__help__subcmd__plan_commands() {
    local commands; commands=()
    _describe -t commands 'gild help plan commands' commands "$@"
}
(( $+functions[_gild__subcmd__help__subcmd__promote_commands] )) ||
_gild__subcmd__help__subcmd__promote_commands() {
    local commands; commands=()
    _describe -t commands 'gild help promote commands' commands "$@"
}
(( $+functions[_gild__subcmd__help__subcmd__prune_commands] )) ||
_gild__subcmd__help__subcmd__prune_commands() {
    local commands; commands=()
    _describe -t commands 'gild help prune commands' commands "$@"
}
(( $+functions[_gild__subcmd__help__subcmd__revoke_commands] )) ||
_gild__subcmd__help__subcmd__revoke_commands() {
    local commands; commands=()
    _describe -t commands 'gild help revoke commands' commands "$@"
}
(( $+functions[_gild__subcmd__help__subcmd__rollback_commands] )) ||
_gild__subcmd__help__subcmd__rollback_commands() {
    local commands; commands=()
    _describe -t commands 'gild help rollback commands' commands "$@"
}
(( $+functions[_gild__subcmd__help__subcmd__scan_commands] )) ||
_gild__subcmd__help__subcmd__scan_commands() {
    local commands; commands=()
    _describe -t commands 'gild help scan commands' commands "$@"
}
(( $+functions[_gild__subcmd__help__subcmd__show_commands] )) ||
_gild__subcmd__help__subcmd__show_commands() {
    local commands; commands=()
    _describe -t commands 'gild help show commands' commands "$@"
}
(( $+functions[_gild__subcmd__help__subcmd__verify_commands] )) ||
_gild__subcmd__help__subcmd__verify_commands() {
    local commands; commands=()
    _describe -t commands 'gild help verify commands' commands "$@"
}
(( $+functions[_gild__subcmd__init_commands] )) ||
_gild__subcmd__init_commands() {
    local commands; commands=()
    _describe -t commands 'gild init commands' commands "$@"
}
(( $+functions[_gild__subcmd__intake_commands] )) ||
_gild__subcmd__intake_commands() {
    local commands; commands=()
    _describe -t commands 'gild intake commands' commands "$@"
}
(( $+functions[_gild__subcmd__list_commands] )) ||
_gild__subcmd__list_commands() {
    local commands; commands=()
    _describe -t commands 'gild list commands' commands "$@"
}
(( $+functions[_gild__subcmd__log_commands] )) ||
_gild__subcmd__log_commands() {
    local commands; commands=()
    _describe -t commands 'gild log commands' commands "$@"
}
(( $+functions[_gild__subcmd__man_commands] )) ||
_gild__subcmd__man_commands() {
    local commands; commands=()
    _describe -t commands 'gild man commands' commands "$@"
}
(( $+functions[_gild__subcmd__plan_commands] )) ||
_gild__subcmd__plan_commands() {
    local commands; commands=()
    _describe -t commands 'gild plan commands' commands "$@"
}
(( $+functions[_gild__subcmd__promote_commands] )) ||
_gild__subcmd__promote_commands() {
    local commands; commands=()
    _describe -t commands 'gild promote commands' commands "$@"
}
(( $+functions[_gild__subcmd__prune_commands] )) ||
_gild__subcmd__prune_commands() {
    local commands; commands=()
    _describe -t commands 'gild prune commands' commands "$@"
}
(( $+functions[_gild__subcmd__revoke_commands] )) ||
_gild__subcmd__revoke_commands() {
    local commands; commands=()
    _describe -t commands 'gild revoke commands' commands "$@"
}
(( $+functions[_gild__subcmd__rollback_commands] )) ||
_gild__subcmd__rollback_commands() {
    local commands; commands=()
    _describe -t commands 'gild rollback commands' commands "$@"
}
(( $+functions[_gild__subcmd__scan_commands] )) ||
_gild__subcmd__scan_commands() {
    local commands; commands=()
    _describe -t commands 'gild scan commands' commands "$@"
}
(( $+functions[_gild__subcmd__show_commands] )) ||
_gild__subcmd__show_commands() {
    local commands; commands=()
    _describe -t commands 'gild show commands' commands "$@"
}
(( $+functions[_gild__subcmd__verify_commands] )) ||
_gild__subcmd__verify_commands() {
    local commands; commands=()
    _describe -t commands 'gild verify commands' commands "$@"
}

if [ "$funcstack[1]" = "_gild" ]; then
    _gild "$@"
else
    compdef _gild gild
fi
