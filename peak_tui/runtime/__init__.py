"""Running a feed's script: the child-side `lib` contract and the parent-side process control."""
