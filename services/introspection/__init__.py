"""The mesh's front desk for tools: reflection of every service and the mesh's health."""
