"""Publishing: dataset trees (Parquet + card + manifest), semver versions, hubs.

- `dataset_tree`: write the hub layout of one version to a folder.
- `versioning`: `Version`, the content hash, and which version comes next.
- `git_lfs_hub`: `GitLfsHub`, any git remote with Parquet in git-LFS (the local hub).
"""
