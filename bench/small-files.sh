# Sourced by the bench scripts: make_small_files DIR COUNT makes COUNT files in DIR, 1,000 per folder,
# 20-300 bytes each, content unique per file; a tree already complete with COUNT files is reused.
make_small_files() {
  local dir=$1 count=$2
  [ -f "$dir/.complete-$count" ] && return 0
  rm -rf "$dir"
  echo "making $count files in $dir (load $(cut -d' ' -f1-3 /proc/loadavg))..."
  node -e '
    const { mkdirSync, writeFileSync } = require("node:fs");
    const [dir, count] = [process.argv[1], Number(process.argv[2])];
    for (let i = 0; i < count; i++) {
      const folder = `${dir}/d${String(Math.floor(i / 1000)).padStart(4, "0")}`;
      if (i % 1000 === 0) mkdirSync(folder, { recursive: true });
      writeFileSync(`${folder}/f${i}.txt`, `file ${i} ${Math.random()}\n`.repeat(1 + (i % 10)));
    }
    writeFileSync(`${dir}/.complete-${count}`, "");
  ' "$dir" "$count"
}
