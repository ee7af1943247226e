"""What the config generators share: write (or ``--check``) the configs a
table renders, and name the generated files no longer in it."""
import argparse
import glob
import os.path as osp
import sys
import textwrap


def sync_configs(doc, tool, configs, generated_glob=None):
    """``tool [--check]``: write each ``{path: text}`` whose file differs (with
    ``--check``: write nothing, exit 1 listing them). ``generated_glob``: the
    files this tool generates; those not in ``configs`` are listed (and fail
    ``--check``)."""
    parser = argparse.ArgumentParser(description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--check', action='store_true', help='only compare, write nothing')
    args = parser.parse_args()
    stale = []
    for path, text in configs.items():
        current = open(path).read() if osp.isfile(path) else None
        if current != text:
            stale.append(path)
            if not args.check:
                with open(path, 'w') as f:
                    f.write(text)
    known = {osp.abspath(c) for c in configs}
    extra = sorted(p for p in glob.glob(generated_glob or '') if osp.abspath(p) not in known)
    if args.check and (stale or extra):
        sys.exit(f'out of date (run {tool}):\n' + textwrap.indent(
            '\n'.join(stale + [f'{p} (not in the table: remove it)' for p in extra]), '  '))
    if extra:
        print('not in the table (remove them):\n' + textwrap.indent('\n'.join(extra), '  '))
    print(f'{"checked" if args.check else "wrote"} {len(configs)} configs'
          + (f', {len(stale)} changed' if stale and not args.check else ''))
