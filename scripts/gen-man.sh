#!/usr/bin/env bash
# Writes a man page from a program's own --help text, so the options are
# described in one place (the CLI11 definitions in the program):
#   scripts/gen-man.sh PROGRAM NAME VERSION "SHORT DESCRIPTION" OUT.SECTION [SEE-ALSO[:SECTION]...]
# (OUT.1 for a program in bin, OUT.8 for one in sbin; a SEE-ALSO page is in
# section 1 unless it says otherwise, carbond-gpucap:8).
# Subcommands listed under "Subcommands:" get a section each, from
# "NAME SUB --help". Uses help2man (Debian package help2man).
set -euo pipefail
prog=$(realpath "$1") name=$2 version=$3 desc=$4 out=$5
shift 5
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# help2man runs the program by the name it is given; run it under its
# installed name so "Usage:" lines say "carbonctl", not the build path.
mkdir "$tmp/bin"
printf '#!/bin/bash\nexec -a %s %q "$@"\n' "$name" "$prog" > "$tmp/bin/$name"
chmod +x "$tmp/bin/$name"
roff() {  # escapes text for a no-fill roff block
  sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"
}
{
  subs=$("$tmp/bin/$name" --help | awk '/^Subcommands:/{on=1; next} on && /^  [a-z]/{print $1} on && /^$/{on=0}')
  if [[ -n $subs ]]; then
    echo "[SUBCOMMANDS]"
    for s in $subs; do
      echo ".SS $s"
      echo ".nf"
      "$tmp/bin/$name" "$s" --help | roff
      echo ".fi"
    done
  fi
  echo "[FILES]"
  echo ".TP"
  echo ".I /etc/carbond/carbond.yaml"
  echo "carbond's configuration; every key is optional and documented there."
  echo ".TP"
  echo ".I /run/carbond/carbond.sock"
  echo "the local REST socket (JSON over HTTP); members of group carbond may use it."
  echo ".TP"
  echo ".I /var/lib/carbond"
  echo "the job database (carbond.db, SQLite) and one run folder per job."
  echo "[SEE ALSO]"
  first=1
  for m in "$@"; do
    ((first)) || printf ',\n'
    page=${m%%:*} sect=1
    [[ $m == *:* ]] && sect=${m##*:}
    printf '.BR %s (%s)' "$page" "$sect"
    first=0
  done
  echo
  echo ".PP"
  echo "The job file format: /usr/share/doc/carbond/job-spec.md; the README: /usr/share/doc/carbond/README.md."
} > "$tmp/include.h2m"
help2man --no-info --no-discard-stderr --version-string="$version" --name="$desc" \
  --section="${out##*.}" --source="carbond $version" --manual="carbond" \
  --include="$tmp/include.h2m" --output="$out" "$tmp/bin/$name"
