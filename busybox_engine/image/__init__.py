"""Images: content store, image records, layer unpacking, snapshots."""
