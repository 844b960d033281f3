# Turns a text file into a C byte array `sym` and its length `sym_len` (one line of the
# file per line of C, so the generated file stays readable).
BEGIN {
    for (i = 0; i < 256; i++) ord[sprintf("%c", i)] = i
    printf "/* generated from data/names.txt by core/embed_text.awk: do not edit */\n"
    printf "#include <stddef.h>\nconst char %s[] = {\n", sym
    total = 0
}
{
    line = $0 "\n"
    n = length(line)
    out = ""
    for (i = 1; i <= n; i++) out = out ord[substr(line, i, 1)] ","
    print out
    total += n
}
END {
    printf "0};\nconst size_t %s_len = %d;\n", sym, total
}
