{{ stg_file_registry('raw_reference') }}
