"""Publishing: dataset trees (Parquet + card + manifest), semver versions, hubs.

- `dataset_tree`: write the hub layout of one version to a folder.
- `versioning`: `Version`, the content hash, and which version comes next.
- `hub`: the `Hub` interface, `HubError`, and the checks every hub runs.
- `git_lfs_hub`: `GitLfsHub`, any git remote with Parquet in git-LFS (the local hub).
- `hf_hub`: `HfHub`, a dataset repository on the Hugging Face Hub.
- `targets`: `hub_for(publish.target)`, which hub a target names.
"""
