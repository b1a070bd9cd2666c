# bash completion for artsearch                            -*- shell-script -*-
# Installed by `make install` into share/bash-completion/completions/.

_artsearch()
{
    local cur prev words cword
    _init_completion || return

    local commands="build query stats check help"
    local cmd="" i
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            build | query | stats | check | help)
                cmd=${words[i]}
                break
                ;;
        esac
    done

    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W "$commands --help --version" -- "$cur"))
        return
    fi

    case $prev in
        -i | --index | -o | --output)
            _filedir -d
            return
            ;;
        -Q | --queries)
            _filedir
            return
            ;;
        -f | --format)
            COMPREPLY=($(compgen -W "text json trec" -- "$cur"))
            return
            ;;
        --color | --colour)
            COMPREPLY=($(compgen -W "auto always never" -- "$cur"))
            return
            ;;
        -l | --language)
            COMPREPLY=($(compgen -W "english none porter danish dutch
                finnish french german hungarian italian norwegian portuguese
                romanian russian spanish swedish turkish" -- "$cur"))
            return
            ;;
        -m | --memory | --max-doc | -n | --limit | --offset | --k1 | --b | \
            --title-weight | --title-b)
            return
            ;;
    esac

    local opts
    case $cmd in
        build)
            opts="--output --memory --language --stopwords --max-doc --quiet
                --help"
            ;;
        query)
            opts="--index --limit --offset --k1 --b --title-weight --title-b
                --explain --json --format --color --no-snippets
                --exact-count --queries --timing --help"
            ;;
        stats) opts="--index --json --help" ;;
        check) opts="--index --help" ;;
        help)
            COMPREPLY=($(compgen -W "$commands" -- "$cur"))
            return
            ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    elif [[ $cmd == build ]]; then
        _filedir
    fi
} &&
    complete -F _artsearch artsearch
