# SPDX-License-Identifier: LGPL-2.1-or-later
# bash completion for scopevisorctl(1)

# Program names (and GROUP:* forms) from the daemon the command line talks to.
__scopevisorctl_programs() {
    local bus=$1
    # Off a terminal the table has no dots: the name is the first field.
    scopevisorctl $bus --no-color status 2>/dev/null |
        awk 'NR > 1 && NF >= 2 { print $1; if (index($1, ":")) { split($1, g, ":"); print g[1] ":*" } }' | sort -u
}

_scopevisorctl() {
    local cur prev words cword
    _init_completion -n : || return

    local commands="status start stop restart signal tail send show reload shutdown help"
    local options="--user --system --json --no-color --no-ask-password --help"
    local bus="" cmd="" i
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
        --user) bus=--user ;;
        --system) bus=--system ;;
        -*) ;;
        *)
            if [[ -z $cmd ]]; then
                cmd=${words[i]}
            fi
            ;;
        esac
    done

    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$options" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        fi
        return
    fi

    case $cmd in
    start | stop | restart)
        COMPREPLY=($(compgen -W "all $(__scopevisorctl_programs "$bus")" -- "$cur"))
        ;;
    status | show | send)
        COMPREPLY=($(compgen -W "$(__scopevisorctl_programs "$bus")" -- "$cur"))
        ;;
    signal)
        if [[ $prev == signal ]]; then
            COMPREPLY=($(compgen -W "HUP INT QUIT KILL USR1 USR2 TERM CONT STOP" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$(__scopevisorctl_programs "$bus")" -- "$cur"))
        fi
        ;;
    tail)
        if [[ $prev == -n ]]; then
            return
        elif [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "-f -n --stderr --all" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$(__scopevisorctl_programs "$bus")" -- "$cur"))
        fi
        ;;
    esac
    __ltrim_colon_completions "$cur"
}
complete -F _scopevisorctl scopevisorctl
